"""The packaged paper presets: the paper's settings, and a dry run of the method's phases on
the scripted backend with those settings unchanged but for the engine and the seed count."""

from __future__ import annotations

import pytest

from svdistill.cli import packaged_config
from svdistill.config import load_config
from svdistill.phases import Engines, Executor, curate_phase, sample_phase, verify_phase
from svdistill.runfolder import RunFolder

PRESETS = ["paper-qwen3-0.6b", "paper-qwen3-4b", "paper-qwen3-8b"]


@pytest.mark.parametrize("name", PRESETS)
def test_a_paper_preset_holds_the_papers_settings(name):
    config = load_config(packaged_config(name))
    assert config.model.backend.startswith("vllm:Qwen/Qwen3-") and config.model.enable_thinking
    assert (config.sample.n, config.sample.top_p, config.sample.max_tokens) == (8, 0.95, 32768)
    assert 0.7 <= config.sample.temperature <= 0.8
    assert config.verify.stages == ["rules", "cycle", "factual", "correctness"]
    assert (config.verify.votes, config.verify.decision) == (5, "unanimous")
    assert (config.verify.cycle_variant, config.verify.temperature) == ("2v", 0.6)
    assert config.judge_max_tokens == 32768  # a thinking judge is not cut off at 256 tokens
    assert config.curate.policy == "first-valid"
    assert config.train.method == "full" and config.train.global_batch_size == 64
    assert config.evaluate.temperature == 0.7 and config.evaluate.samples > 1


@pytest.mark.parametrize("name", PRESETS)
def test_a_paper_preset_dry_runs_on_the_scripted_backend(name, tmp_path):
    config = load_config(packaged_config(name),
                         ["model.backend=scripted:judge=yes", "seeds.limit=3"])
    run = RunFolder(tmp_path)
    engines = Engines()
    executor = Executor(tmp_path / "timings.json")
    sampled = executor.run(run, sample_phase(config, run, engines, False), config)
    verified = executor.run(run, verify_phase(config, run, engines, False), config)
    curated = executor.run(run, curate_phase(config, run, False), config)
    run.close()
    assert sampled.candidates == 3 * 8
    assert verified.errors == 0 and verified.accepted > 0
    assert verified.settings["max_tokens"] == 32768
    assert 0 < curated.kept <= 3  # first-valid: at most one example per question
