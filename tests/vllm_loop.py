"""What the two vLLM test modules share: a few seeds through sample and verify on the
embedded model, small enough for vLLM's CPU build on 2 cores."""

from __future__ import annotations

import json
from pathlib import Path

from svdistill.cli import resolve_config
from svdistill.phases import Engines, Executor
from svdistill.runfolder import RunFolder

# 3 seeds x 2 candidates, then two votes of the correctness judge on each (no rules stage: it
# would reject the candidates cut off at 128 tokens before the judge sees them): 6 sampling
# calls and 12 judge calls, all of them paid on a fresh store.
LOOP = ["seeds.limit=3", "sample.n=2", "sample.max_tokens=128",
        "verify.stages=[correctness]", "verify.votes=2", "verify.mode=eager",
        "model.max_retries=1"]


def loop_config(backend: str, *overrides: str):
    return resolve_config("quick", [f"model.backend={backend}", *LOOP, *overrides])


def loop_overrides(backend: str) -> list[str]:
    """The same settings as command-line overrides of the `quick` config."""
    return [f"model.backend={backend}", *LOOP]


def run_phase(make_phase, config, folder: Path, engine) -> dict:
    """One phase through the executor with `engine` preloaded; its stats file's figures."""
    run = RunFolder(folder)
    try:
        engines = Engines(preloaded={config.model.backend: engine})
        Executor(skip_done=False).run(run, make_phase(config, run, engines, False), config)
    finally:
        run.close()
    name = "sample_stats.json" if make_phase.__name__ == "sample_phase" else "verify_stats.json"
    return json.loads((folder / name).read_text())


def texts(folder: Path) -> dict[tuple[str, int], str]:
    """Each candidate's text by (question id, sample index)."""
    rows = [json.loads(line) for line in (folder / "candidates.jsonl").open()]
    return {(r["question_id"], r["sample_index"]): r["text"] for r in rows}
