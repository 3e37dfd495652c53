"""The in-process `vllm:` backend on the embedded model, with vLLM's CPU build: `sample` and
`verify` on a few seeds, per-request seeds that reproduce, a call store that makes the rerun
free, and a request vLLM refuses reported as a failed call like every other engine's.

Opt-in (`-m vllm`), run with the vLLM venv's python (`bash scripts/install.sh vllm`):

    .venv-vllm/bin/python -m pytest -m vllm tests/test_vllm_offline.py

The engine starts once for the module (about 160 s on 2 cores).
"""

from __future__ import annotations

import json

import pytest
from vllm_loop import loop_config, run_phase, texts

from svdistill.backends.base import Request, SamplingParams
from svdistill.backends.embedded import embedded_hf_folder
from svdistill.phases import PhaseFailed, PhaseLog, sample_phase, verify_phase
from svdistill.runfolder import RunFolder

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")


@pytest.fixture(scope="module")
def engine():
    from svdistill.backends.vllm_offline import VLLMBackend

    backend = VLLMBackend(str(embedded_hf_folder()))
    yield backend
    backend.close()


@pytest.fixture
def config():
    return loop_config(f"vllm:{embedded_hf_folder()}")


def test_sample_and_verify_run_reproduce_and_resume_free(engine, config, tmp_path):
    sample = run_phase(sample_phase, config, tmp_path / "run", engine)
    assert (sample["errors"], sample["candidates"], sample["paid_calls"]) == (0, 6, 6)
    verify = run_phase(verify_phase, config, tmp_path / "run", engine)
    assert (verify["failed_calls"], verify["paid_calls"]) == (0, 12)

    # The rerun pays nothing: every call comes out of the store.
    again = run_phase(sample_phase, config, tmp_path / "run", engine)
    assert (again["paid_calls"], again["cached_calls"]) == (0, 6)
    assert run_phase(verify_phase, config, tmp_path / "run", engine)["paid_calls"] == 0

    # A fresh run folder (its own store, so every call is paid again) gets the same texts.
    fresh = run_phase(sample_phase, config, tmp_path / "fresh", engine)
    assert fresh["paid_calls"] == 6
    assert texts(tmp_path / "fresh") == texts(tmp_path / "run")


def test_a_request_vllm_refuses_fails_alone(engine):
    params = SamplingParams(temperature=0.7, max_tokens=8, seed=1)
    too_long = Request.chat([{"role": "user", "content": "1 + 1 = 2. " * 20_000}], params)
    fine = Request.chat([{"role": "user", "content": "What is 2 + 3?"}], params)
    refused, answered = engine.generate([too_long, fine])
    assert refused.finish_reason == "error" and "maximum context length" in refused.error
    assert answered.ok and answered.text


def test_failed_calls_leave_the_phase_to_redo(engine, tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"id": "long", "question": "1 + 1 = 2. " * 20_000}) + "\n")
    config = loop_config(f"vllm:{embedded_hf_folder()}", f"seeds.path={seeds}")
    with pytest.raises(PhaseFailed, match="rerun the same command"):
        run_phase(sample_phase, config, tmp_path / "run", engine)
    assert "sample" not in PhaseLog(RunFolder(tmp_path / "run")).done
