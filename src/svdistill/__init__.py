"""Self-Verified Distillation: a model samples, judges and fine-tunes on its own solutions."""

__version__ = "0.1.0"
