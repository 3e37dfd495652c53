"""What a dtype name in the config (`model.dtype`, `train.dtype`) means to torch, in one place,
so the engine that samples and the trainer that fine-tunes load the same weights alike.

Only the torch-based modules (the hf engine, training) import this one.
"""

from __future__ import annotations

import torch

# auto is bfloat16: LoRA on the 0.5B model on CPU peaked at 6.9 GiB against 11.7 GiB in float32
# and was no slower (faster at 256 tokens); GPUs train the paper's models in bf16.
DTYPES = {
    "auto": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float16": torch.float16,
}


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of a config's dtype name; the config's Literal types allow no other."""
    return DTYPES[name]
