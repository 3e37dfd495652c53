"""Data-parallel training really launched: `accelerate launch --multi_gpu --num_processes 2` on
CPU (torchrun, gloo) of the tiny random Qwen2 through `svdistill train`, interrupted after its
first checkpoint and resumed. Opt in with `-m heavy` (about two minutes on two cores)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("accelerate")

from svdistill.store import read_jsonl, write_jsonl  # noqa: E402

pytestmark = pytest.mark.heavy

STEPS, SAVE_EVERY = 8, 2


def launch(run: Path, model: Path) -> list[str]:
    return [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "svdistill", "train", "quick", "--out", str(run), "--no-progress",
        f"model.backend=hf:{model}", f"train.max_steps={STEPS}", "train.batch_size=3",
        "train.learning_rate=0.01", "train.warmup_ratio=0", "train.dtype=float32",
        "train.gradient_checkpointing=false", "train.max_length=256", "train.method=lora",
        "train.lora_r=8", f"train.save_steps={SAVE_EVERY}",
    ]


def env() -> dict[str, str]:
    src = str(Path(__file__).parents[1] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
            "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}


def test_two_process_training_saves_one_model_and_resumes(tiny_model, tmp_path):
    run = tmp_path / "run"
    rows = [{"id": f"q{i}#0", "messages": [
        {"role": "system", "content": "You are a careful problem solver."},
        {"role": "user", "content": f"What is {i} plus {i}?"},
        {"role": "assistant", "content": f"{i} plus {i} is {2 * i}. \\boxed{{{2 * i}}}"}]}
        for i in range(12)]
    write_jsonl(run / "sft" / "train.jsonl", rows)
    checkpoints = run / "train" / "checkpoints"

    # First launch: stopped (SIGTERM to its process group) once checkpoint-2 is whole.
    first_log = open(tmp_path / "first.log", "w+")  # noqa: SIM115
    first = subprocess.Popen(launch(run, tiny_model), env=env(), stdout=first_log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600
    while not (checkpoints / f"checkpoint-{SAVE_EVERY}" / "trainer_state.json").exists():
        assert first.poll() is None, open(tmp_path / "first.log").read()[-3000:]
        assert time.time() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGTERM)
    first.wait(60)
    first_log.close()
    assert not (run / "model").exists(), "the first launch finished before it was stopped"

    # Second launch: resumes from the last whole checkpoint and runs to the end.
    resumed_from = max(int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*")
                       if (p / "trainer_state.json").exists())
    second = subprocess.run(launch(run, tiny_model), env=env(), capture_output=True, text=True,
                            timeout=900)
    output = second.stdout + second.stderr
    (tmp_path / "second.log").write_text(output)
    assert second.returncode == 0, output[-3000:]
    # Only the steps after the checkpoint were trained again (one loss line each, rank 0).
    assert output.count("'loss'") == STEPS - resumed_from

    log = [r for r in read_jsonl(run / "train" / "log.jsonl") if "loss" in r]
    assert [r["step"] for r in log] == list(range(1, STEPS + 1))  # none lost, none twice
    print(f"resumed from checkpoint-{resumed_from}; loss by step "
          f"{[(r['step'], round(r['loss'], 3)) for r in log]}")
    assert log[-1]["loss"] < log[0]["loss"]
    stats = json.loads((run / "train" / "stats.json").read_text())
    assert stats["steps"] == STEPS and stats["effective_batch"] == 6  # 3 per process x 2

    # One merged model, written once, by the main process only.
    assert output.count(f"wrote {run / 'model'}") == 1
    assert (run / "model" / "model.safetensors").exists()
    assert (run / "model" / "adapter" / "adapter_config.json").exists()
    assert [p.name for p in run.iterdir() if p.name.startswith(".model")] == []
    from svdistill.backends.base import Request, SamplingParams
    from svdistill.backends.hf import HFBackend

    backend = HFBackend(run / "model", batch_size=1, dtype="float32")
    request = Request.chat(rows[0]["messages"][:-1], SamplingParams(0.0, 1.0, 0, 8, 0))
    assert backend.generate([request])[0].completion_tokens > 0
