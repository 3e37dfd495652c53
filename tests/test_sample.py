import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from svdistill.backends.scripted import echo_math_backend
from svdistill.runfolder import RunFolder
from svdistill.sample import run_sample
from svdistill.store import read_jsonl


def rows(path: Path) -> list[dict]:
    return list(read_jsonl(path))


def test_sample_writes_every_question_times_n(config, tmp_path):
    run = RunFolder(tmp_path)
    summary = run_sample(config, run, echo_math_backend(), progress=False)
    run.close()
    candidates = rows(tmp_path / "candidates.jsonl")
    assert summary.questions == 6 and summary.candidates == len(candidates) == 18
    assert [(c["question_id"], c["sample_index"]) for c in candidates[:3]] == [
        (candidates[0]["question_id"], i) for i in range(3)
    ]
    assert len(rows(tmp_path / "questions.jsonl")) == 6
    stats = json.loads((tmp_path / "sample_stats.json").read_text())
    assert stats["paid_calls"] == 18 and stats["cached_calls"] == 0


def test_rerun_pays_nothing_and_changed_params_pay_again(config, tmp_path):
    for _ in range(2):
        run = RunFolder(tmp_path)
        summary = run_sample(config, run, echo_math_backend(), progress=False)
        run.close()
    assert (summary.calls.paid, summary.calls.cached) == (0, 18)
    config.sample.temperature = 0.9  # a different key: nothing stale is reused
    run = RunFolder(tmp_path)
    summary = run_sample(config, run, echo_math_backend(), progress=False)
    run.close()
    assert summary.calls.paid == 18
    keys = [r["key"] for r in rows(tmp_path / "calls.jsonl")]
    assert len(keys) == len(set(keys)) == 36


def test_truncated_reply_is_recorded_as_truncated(config, tmp_path):
    config.sample.max_tokens = 3
    run = RunFolder(tmp_path)
    summary = run_sample(config, run, echo_math_backend(), progress=False)
    run.close()
    assert summary.truncated == 18
    assert {c["finish_reason"] for c in rows(tmp_path / "candidates.jsonl")} == {"length"}


def svdistill(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "svdistill", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_kill_9_midway_then_resume(tmp_path):
    run_dir = tmp_path / "run"
    args = ["sample", "quick", "--out", str(run_dir), "model.backend=scripted:delay=0.02",
            "seeds.limit=30", "sample.n=4", "--no-progress"]
    proc = svdistill(*args)
    calls = run_dir / "calls.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if calls.exists() and calls.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run_dir / "candidates.jsonl").exists()  # never half-written
    stored_before = calls.read_bytes().count(b"\n")
    assert 40 <= stored_before < 120

    done = svdistill(*args)
    out, errors = done.communicate(timeout=120)
    assert done.returncode == 0, errors
    candidates = rows(run_dir / "candidates.jsonl")
    pairs = [(c["question_id"], c["sample_index"]) for c in candidates]
    assert len(pairs) == len(set(pairs)) == 120
    keys = [r["key"] for r in rows(calls)]
    assert len(keys) == len(set(keys)) == 120  # no call paid twice
    stats = json.loads((run_dir / "sample_stats.json").read_text())
    assert stats["paid_calls"] == 120 - stored_before
