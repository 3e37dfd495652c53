"""`evaluate --model PATH`: every model gets its own RUN/eval/<label>, and a label never takes
over another model's results."""

from __future__ import annotations

import json
from pathlib import Path

from svdistill.config import load_config
from svdistill.evaluate import resolve_model
from svdistill.runfolder import RunFolder


def test_models_of_one_run_get_distinct_descriptive_labels(tmp_path: Path) -> None:
    """Before: round-1/model and round-1/no-filter/model were both labelled `model` and wrote
    the same RUN/eval/model/, the second evaluation replacing the first's results."""
    run = RunFolder(tmp_path / "run")
    for folder in ("round-1/model", "round-1/no-filter/model", "model"):
        (run.path / folder).mkdir(parents=True)
    cfg = load_config(None, ["model.backend=scripted"])
    labels = [resolve_model(cfg, run, str(run.path / f))[0]
              for f in ("round-1/model", "round-1/no-filter/model", "model")]
    assert labels == ["round-1", "round-1-no-filter", "trained"]
    outside = tmp_path / "elsewhere" / "model"
    outside.mkdir(parents=True)
    assert resolve_model(cfg, run, str(outside)) == ("elsewhere", f"hf:{outside}")


def test_a_label_holding_another_models_results_is_not_reused(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    cfg = load_config(None, ["model.backend=scripted"])
    first, second = tmp_path / "a" / "ckpt", tmp_path / "b" / "a" / "ckpt"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    label, spec = resolve_model(cfg, run, str(first))
    summary = run.file(f"eval/{label}/arithmetic/summary.json")
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"backend": spec}))
    assert resolve_model(cfg, run, str(first))[0] == label  # its own results: same label
    other = resolve_model(cfg, run, str(second))[0]
    assert other != label and other.startswith(label + "-")  # a-ckpt is taken by another model
    assert resolve_model(cfg, run, str(second))[0] == other  # and stays stable


def test_the_trained_model_is_evaluated_on_the_base_models_engine(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    (run.path / "model").mkdir(parents=True)
    on_vllm = load_config(None, ["model.backend=vllm:Qwen/Qwen3-0.6B"])
    assert resolve_model(on_vllm, run, "trained") == ("trained", f"vllm:{run.path / 'model'}")
    embedded = load_config(None, ["model.backend=embedded"])
    assert resolve_model(embedded, run, "trained") == ("trained", f"hf:{run.path / 'model'}")
