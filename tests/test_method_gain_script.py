"""benchmarks/method_gain.py's bookkeeping (its model runs are the script's, not the suite's)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def method_gain():
    spec = importlib.util.spec_from_file_location("method_gain", ROOT / "benchmarks/method_gain.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["method_gain"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_rerun_with_more_heldout_questions_scores_its_own_samples(tmp_path):
    for name in ("arithmetic@120", "arithmetic@240"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "samples.jsonl").write_text("{}\n", encoding="utf-8")
    samples_file = method_gain().samples_file
    assert samples_file(tmp_path, "arithmetic@240") == tmp_path / "arithmetic@240/samples.jsonl"
    assert samples_file(tmp_path, "arithmetic@60") is None
