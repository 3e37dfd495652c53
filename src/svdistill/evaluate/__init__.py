"""Evaluation on held-out benchmarks: pass@k of a model, and the UQ-TTC baseline.

- `run_evaluate(config, run, model, method)`: the phase; results in RUN/eval/;
- `comparison_rows(run)`: every result in a run, for tables and the report;
- `load_benchmark(spec)`, `pass_at_k`, `bootstrap_ci`, `first_accepted`: the parts.
"""

from __future__ import annotations

from .benchmarks import BenchItem, Benchmark, load_benchmark
from .passk import bootstrap_ci, pass_at_k
from .phase import resolve_model, run_evaluate
from .results import comparison_rows, comparison_table
from .uq_ttc import TTCOutcome, first_accepted

__all__ = [
    "BenchItem",
    "Benchmark",
    "TTCOutcome",
    "bootstrap_ci",
    "comparison_rows",
    "comparison_table",
    "first_accepted",
    "load_benchmark",
    "pass_at_k",
    "resolve_model",
    "run_evaluate",
]
