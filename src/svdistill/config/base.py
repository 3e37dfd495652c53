"""What every config section shares: unknown keys are errors, assignments are validated, and
no value may be NaN or infinite; and the bounds no real run reaches."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: Bounds no real run reaches, so an absurd value (`sample.n=10**8`, a timeout of 1e300) is an
#: error naming the key when the config loads, not a MemoryError or OverflowError once the model
#: is loaded. Floats must also be finite: NaN and inf are refused everywhere.
MAX_COUNT = 1024  # candidates, votes or samples per question; engine batches; rounds
MAX_TOKENS = 1 << 20  # tokens in one reply or one context
MAX_SECONDS = 86_400.0  # one day, for any timeout
MAX_SEED = 2**31 - 1 - MAX_COUNT  # so seed + i (i < MAX_COUNT) fits every engine's 32-bit seed


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
