"""`svdistill run` end to end on the openai backend against a real server (llama-cpp-python's, on
the tiny SmolLM2-135M GGUF) behind a proxy that breaks a fifth of the requests: 5xx replies,
connection resets, stalls past the client's timeout, cut-off JSON and slow replies.

Every injected fault must be retried or recorded with its reason, and the run must end with the
same artifacts as a run without faults: candidates, verdicts, training set, model and results.
And calls that still fail after their retries must leave their phase unfinished, so that the
rerun the run asks for retries them (a scripted engine that fails on cue, no server).

Both runs go through the proxy with `fresh` on, which puts the server in the same state before
every request: llama-cpp-python's server is not deterministic otherwise, even with a fixed
per-request seed, as its replies depend on the request served before (see faultproxy), and
retries change that order. Prompts are kept short to keep the test fast. The training model is
the tiny random one (`train.base_model`); the trained model is evaluated in-process
(hf:RUN/round-1/model).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from faultproxy import FAULTS, FaultProxy

from svdistill.backends import make_backend
from svdistill.backends.base import Backend, Completion
from svdistill.backends.scripted import echo_math_backend
from svdistill.config import load_config
from svdistill.phases import PhaseLog
from svdistill.pipeline import Pipeline
from svdistill.runfolder import RunFolder
from svdistill.store import RunError

FAULT_RATE = 0.2
TIMEOUT_S = 6.0  # the client's; a stall lasts longer
# What the backend calls each fault when it retries it (see openai_http.failure_reason).
REASON = {"503": "http 503", "reset": "connection", "stall": "timeout",
          "malformed": "malformed reply"}


JUDGE = "Question: {question}\nAnswer: {answer}\nIs the answer right? End with [[Y]] or [[N]].\n"


def config_for(url: str, model: str, tiny_model, judge_prompt):
    return load_config(None, [
        f"model.backend=openai:{url}#{model}", "model.concurrency=2",
        f"model.timeout_s={TIMEOUT_S}", "model.max_retries=8",
        "model.system_prompt=Be brief.", "model.user_template={question}",
        "seeds.limit=2", "sample.n=2", "sample.max_tokens=8",
        # One judge call per candidate. No rules stage: it would reject the cut-off samples
        # before any judge call is made.
        "verify.stages=[correctness]", "verify.votes=1", "verify.max_tokens=8",
        f"verify.prompts={{correctness: {judge_prompt}}}",
        # The tiny judge rarely accepts; training on every sample keeps the train phase in.
        "curate.policy=no-filter",
        f"train.base_model={tiny_model}", "train.max_steps=1", "train.batch_size=2",
        "train.dtype=float32", "train.gradient_checkpointing=false",
        "evaluate.benchmarks=[arithmetic@1]", "evaluate.samples=1", "evaluate.max_tokens=8",
        "evaluate.uq_ttc_candidates=1",
    ])


def run(config, out):
    """The whole loop with the configured openai backend, kept to read its retry counts."""
    started = time.perf_counter()
    backend = make_backend(config.model.backend, config.model)
    backend.backoff_initial_s = 0.02  # the default 0.5 s would only make the test slower
    pipeline = Pipeline(config, out, progress=False)
    pipeline.engines.provide(config.model.backend, backend)
    rows = pipeline.run()
    print(f"{out.name}: {time.perf_counter() - started:.1f} s, phases {pipeline.timings}")
    return rows, backend


@pytest.mark.slow
def test_run_through_faults_equals_a_run_without(tiny_server, tiny_model, tmp_path,
                                                 run_artifacts):
    pytest.importorskip("trl")
    url, model = tiny_server
    judge = tmp_path / "judge.txt"
    judge.write_text(JUDGE)
    with FaultProxy(url, fresh=True) as proxy:
        clean_rows, clean = run(config_for(proxy.url, model, tiny_model, judge),
                                tmp_path / "clean")
        clean_url = proxy.url
    assert not clean.failed and not proxy.injected

    # Each kind of fault once first, so every kind is covered, then a fifth of the requests at
    # random; not stalls, as each costs a whole client timeout.
    with FaultProxy(url, rate=FAULT_RATE, schedule=list(FAULTS), seed=3,
                    faults=tuple(f for f in FAULTS if f != "stall"),
                    stall_s=TIMEOUT_S + 2, fresh=True,
                    port=int(clean_url.rsplit(":", 1)[1].split("/")[0])) as proxy:
        rows, backend = run(config_for(proxy.url, model, tiny_model, judge),
                            tmp_path / "faults")
    print(f"{proxy.requests} requests, faults {dict(Counter(proxy.injected))}, abandoned "
          f"{proxy.abandoned}; retried {dict(backend.retried)}, failed {dict(backend.failed)}")
    assert set(proxy.injected) == set(FAULTS)
    assert len(proxy.injected) >= FAULT_RATE * proxy.requests  # with the 5 scheduled ones

    # Every fault reached the client as what it was and was retried, or recorded as failed
    # with its reason; a slow reply is no failure. A reply the server took longer to send than
    # the client waited (a slow CI machine) is a timeout the proxy did not inject: it counts it.
    expected = Counter(REASON[f] for f in proxy.injected if f in REASON)
    for fault in proxy.abandoned:  # the client had timed out before this reply came back
        if fault in REASON:
            expected[REASON[fault]] -= 1
        expected["timeout"] += 1
    assert backend.retried + backend.failed == +expected
    assert not backend.failed  # 8 retries: giving up is practically impossible here

    # The same artifacts as the run without faults, the same replies stored, the same model.
    # (phases.json holds hashes of the configs, which name different URLs.)
    names = {proxy.url: "URL", clean_url: "URL"}
    assert run_artifacts.differences(tmp_path / "faults", tmp_path / "clean", names,
                                     skip=("round-1/phases.json",)) == []
    assert dict(run_artifacts.calls(tmp_path / "faults")) == dict(
        run_artifacts.calls(tmp_path / "clean"))
    assert run_artifacts.same_weights(tmp_path / "faults", tmp_path / "clean")
    strip = [{k: v for k, v in r.items() if k != "path"} for r in (*rows, *clean_rows)]
    assert strip[: len(rows)] == strip[len(rows):]
    assert {(r["model"], r["method"]) for r in rows} == {
        ("base", "single"), ("base", "uq-ttc"), ("trained", "single")}


class Flaky(Backend):
    """The scripted solver with a judge that rejects everything (so no training follows), whose
    calls matching `fails` come back failed, as the openai backend returns them once its
    retries are spent."""

    def __init__(self, fails):
        self.inner = echo_math_backend(judge="no")
        self.fails = fails

    @property
    def identity(self) -> str:
        return self.inner.identity

    def generate(self, requests):
        return [Completion("", "error", error="InternalServerError: 503, after 5 attempts")
                if self.fails(request) else completion
                for request, completion in zip(requests, self.inner.generate(requests),
                                               strict=True)]


# Which calls fail, by their seeds: sample i uses seed i, judge votes 1000 + i, evaluation 2000 + i.
@pytest.mark.parametrize("phase, fails", [
    ("verify", lambda r: 1000 <= r.params.seed < 2000),
    ("evaluate base", lambda r: r.params.seed >= 2000),
])
def test_calls_failed_after_retries_leave_the_phase_to_redo(phase, fails, tmp_path):
    config = load_config(None, ["model.backend=scripted", "seeds.limit=2", "sample.n=2",
                                "verify.votes=1", "evaluate.benchmarks=[arithmetic@2]",
                                "evaluate.samples=1", "evaluate.uq_ttc_candidates=1"])
    pipeline = Pipeline(config, tmp_path, progress=False)
    pipeline.engines.provide("scripted", Flaky(fails))
    with pytest.raises(RunError, match="failed after retries; rerun the same command"):
        pipeline.run()
    assert phase not in PhaseLog(RunFolder(tmp_path / "round-1")).done

    pipeline = Pipeline(config, tmp_path, progress=False)
    pipeline.engines.provide("scripted", Flaky(lambda r: False))
    pipeline.run()  # the rerun retries the failed calls and finishes the phase
    assert phase in PhaseLog(RunFolder(tmp_path / "round-1")).done
