"""Self-verification: the cascade of judges that accepts or rejects sampled candidates.

- `run_verify(config, run, backend)`: the phase (reads and writes a run folder);
- `Cascade(config.verify, runner).judge(items)`: the same decisions in memory, for reuse
  (the UQ-TTC baseline in evaluation runs it on each question's candidates);
- `parse_verdict`: the one verdict format, `[[Y]]` / `[[N]]`.
"""

from __future__ import annotations

from .cascade import Cascade, StageStats, decide
from .parse import ERROR, NO, UNDECIDED, YES, parse_verdict
from .phase import VerifySummary, load_items, run_verify

__all__ = [
    "ERROR",
    "NO",
    "UNDECIDED",
    "YES",
    "Cascade",
    "StageStats",
    "VerifySummary",
    "decide",
    "load_items",
    "parse_verdict",
    "run_verify",
]
