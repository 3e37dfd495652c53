"""`svdistill run` end to end on a scripted model (sampling, judging, evaluation) and a tiny
random model (training): phases chain, results land where the report looks, resume skips."""

import json

import pytest

pytest.importorskip("trl")

from svdistill.backends.scripted import ScriptedBackend, echo_math_backend  # noqa: E402
from svdistill.config import load_config  # noqa: E402
from svdistill.phases import inputs_hash  # noqa: E402
from svdistill.pipeline import Pipeline  # noqa: E402


def scripted_model() -> ScriptedBackend:
    solver = echo_math_backend()
    return ScriptedBackend(rules=[(r"\[\[Y\]\]", "Checked. [[Y]]")], default=solver.default,
                           name="pipeline")


@pytest.fixture
def config(tiny_model):
    return load_config(None, [
        "model.backend=scripted", "seeds.limit=4", "sample.n=2", "verify.votes=2",
        f"train.base_model={tiny_model}", "train.max_steps=2", "train.batch_size=2",
        "train.dtype=float32", "train.gradient_checkpointing=false",
        "evaluate.benchmarks=[arithmetic@3]", "evaluate.samples=2",
        "evaluate.uq_ttc_candidates=2", "evaluate.max_tokens=16",
    ])


def run_pipeline(config, out):
    pipeline = Pipeline(config, out, progress=False)
    pipeline.engines.provide("scripted", scripted_model())
    return pipeline, pipeline.run()


def test_run_chains_every_phase_and_resumes(config, tmp_path):
    pipeline, rows = run_pipeline(config, tmp_path)
    round1 = tmp_path / "round-1"
    for name in ("candidates.jsonl", "verdicts.jsonl", "sft/train.jsonl", "model/config.json"):
        assert (round1 / name).exists(), name
    assert {(r["model"], r["method"]) for r in rows} == {
        ("base", "single"), ("base", "uq-ttc"), ("trained", "single")}
    phases = json.loads((round1 / "phases.json").read_text())
    assert list(phases) == ["sample", "verify", "evaluate base", "evaluate uq-ttc", "curate",
                            "train", "evaluate trained"]

    mtime = (round1 / "model" / "config.json").stat().st_mtime_ns
    again, rows_again = run_pipeline(config, tmp_path)
    assert (round1 / "model" / "config.json").stat().st_mtime_ns == mtime  # not retrained
    assert again.timings == pipeline.timings  # nothing ran, so nothing was re-timed
    assert rows_again == rows


def test_changed_inputs_rerun_only_what_depends_on_them(config):
    before = {p: inputs_hash(config, p) for p in ("sample", "verify", "train", "evaluate-base")}
    config.train.learning_rate = 0.5
    after = {p: inputs_hash(config, p) for p in before}
    assert before["sample"] == after["sample"] and before["verify"] == after["verify"]
    assert before["evaluate-base"] == after["evaluate-base"]
    assert before["train"] != after["train"]


def test_fresh_seeds_per_round_needs_a_limit(config, tmp_path):
    config.run.round_seeds = "fresh"
    config.seeds.limit = None
    pipeline = Pipeline(config, tmp_path, progress=False)
    with pytest.raises(Exception, match="needs seeds.limit"):
        pipeline.round_config(2)
    config.seeds.limit = 5
    assert pipeline.round_config(3).seeds.offset == 10
    assert pipeline.round_config(2).model.backend.startswith("hf:")
    config.model.backend = "vllm:Qwen/Qwen3-0.6B"  # round 2 stays on vLLM, not transformers
    previous = (tmp_path / "round-1" / "model").resolve()
    assert pipeline.round_config(2).model.backend == f"vllm:{previous}"


def test_the_base_engine_is_released_before_training(config, tmp_path, monkeypatch):
    """Under vLLM on a GPU the base model's engine holds most of the memory, so every phase
    that needs it runs first and it is closed before training starts."""
    import svdistill.backends as backends
    import svdistill.train as train

    events: list[str] = []
    make_backend, run_train = backends.make_backend, train.run_train

    def load(spec, model_config):
        if spec != "scripted":
            return make_backend(spec, model_config)  # the trained model
        events.append("base loaded")
        model = scripted_model()
        model.close = lambda: events.append("base closed")
        return model

    def training(*args, **kwargs):
        events.append("train")
        return run_train(*args, **kwargs)

    monkeypatch.setattr(backends, "make_backend", load)
    monkeypatch.setattr(train, "run_train", training)
    rows = Pipeline(config, tmp_path, progress=False).run()
    assert events == ["base loaded", "base closed", "train"]
    assert {r["model"] for r in rows} == {"base", "trained"}


def test_nothing_accepted_skips_training_with_a_message(config, tmp_path):
    pipeline = Pipeline(config, tmp_path, progress=False)
    pipeline.engines.provide("scripted", ScriptedBackend(
        rules=[(r"\[\[Y\]\]", "[[N]]")], default=echo_math_backend().default, name="strict"))
    rows = pipeline.run()
    assert not (tmp_path / "round-1" / "model").exists()
    assert {r["model"] for r in rows} == {"base"}
