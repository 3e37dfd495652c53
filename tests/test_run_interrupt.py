"""`svdistill run` as a user runs it, interrupted: killed with SIGKILL at seeded random moments in
every phase and rerun after each kill, and stopped once with Ctrl-C (SIGINT). The run that finally
completes must equal an uninterrupted run: the same rows in every artifact (none lost, none
duplicated), the same results and model, every JSON file whole, and no model call stored twice.

The model is the scripted backend with a per-call delay (so phases that call it last long enough
to be hit) and a judge that says yes (so there is a training set); training uses the tiny random
model. A kill lands at a moment taken from the reference run's phase timings: a random fraction of
the phase's reference duration after the phase's banner appears.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytestmark = pytest.mark.slow

PHASES = ("sample", "verify", "evaluate base", "evaluate uq-ttc", "curate", "train",
          "evaluate trained")
RULE = re.compile(r"─ round-1: (?P<phase>[a-z -]+?) ─")  # the banner a phase prints as it starts
KILLS = 10
CONFIG = """\
model:
  backend: scripted:delay=0.04,judge=yes
seeds:
  limit: 3
sample:
  n: 2
verify:
  votes: 2
train:
  base_model: {base_model}
  max_steps: 1
  batch_size: 2
  dtype: float32
  gradient_checkpointing: false
evaluate:
  benchmarks: [arithmetic@2]
  samples: 2
  uq_ttc_candidates: 2
  max_tokens: 16
"""


def _ctrl_c_as_on_a_terminal() -> None:
    # A shell without job control starts background jobs with SIGINT ignored (`cmd &`, nohup,
    # some CI runners), and the run would inherit that: Ctrl-C would do nothing, as it does
    # for any program started so. The run under test gets SIGINT as a terminal would give it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Launch:
    """`python -m svdistill run` in its own process group, its output read line by line."""

    def __init__(self, config: Path, out: Path):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "svdistill", "run", str(config), "--out", str(out),
             "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True, preexec_fn=_ctrl_c_as_on_a_terminal,
        )
        self.lines: list[str] = []
        self.started: list[tuple[str, float]] = []  # (phase, when its banner appeared)
        self._events: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if match := RULE.search(line):
                self.started.append((match["phase"], time.perf_counter()))
                self._events.put(match["phase"])
        self._events.put(None)

    def wait_for(self, phases: set[str], timeout: float = 300) -> str | None:
        """The first of `phases` to start (or None if the run ends first)."""
        deadline = time.perf_counter() + timeout
        while (phase := self._events.get(timeout=max(0.0, deadline - time.perf_counter()))):
            if phase in phases:
                return phase
        return None

    @property
    def phase(self) -> str | None:
        return self.started[-1][0] if self.started else None

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def finish(self, timeout: float = 300) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return rc

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc) -> None:  # a failed check leaves no run behind
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=60)

    @property
    def output(self) -> str:
        return "".join(self.lines)


def complete(config: Path, out: Path) -> Launch:
    started = time.perf_counter()
    with Launch(config, out) as launch:
        rc = launch.finish()
    assert rc == 0, launch.output[-3000:]
    print(f"complete run of {out.name} took {time.perf_counter() - started:.1f} s")
    return launch


def interruptions(durations: dict[str, float], seed: int = 7) -> list[tuple[str, float, int]]:
    """(phase, seconds after its banner, signal), in run order: KILLS SIGKILLs, one in every
    phase and the rest in phases drawn at random, and one SIGINT while judge calls run. Each
    is a random share of the phase's reference duration, under a half so that a phase that runs
    faster than in the reference is still hit."""
    rng = random.Random(seed)
    phases = list(PHASES) + rng.choices(PHASES, k=KILLS - len(PHASES))
    moments = [(PHASES.index(p), rng.uniform(0.02, 0.5), signal.SIGKILL) for p in phases]
    moments.append((PHASES.index("verify"), rng.uniform(0.02, 0.5), signal.SIGINT))
    return [(PHASES[i], share * durations[PHASES[i]], sig) for i, share, sig in sorted(moments)]


@pytest.fixture(scope="module")
def config_file(tiny_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("interrupt") / "run.yaml"
    path.write_text(CONFIG.format(base_model=tiny_model))
    return path


def test_killed_and_interrupted_runs_resume_to_the_same_result(config_file, tmp_path,
                                                               run_artifacts):
    reference = tmp_path / "reference"
    complete(config_file, reference)
    durations = json.loads((reference / "timings.json").read_text())["round-1"]
    assert list(durations) == list(PHASES)

    out = tmp_path / "interrupted"
    killed_in: list[str] = []  # the phase each SIGKILL landed in
    interrupted = False  # a Ctrl-C was seen through
    for phase, after_s, sig in interruptions(durations):
        started = time.perf_counter()
        with Launch(config_file, out) as launch:
            # The phase to hit, or the next one to run if a faster rerun already finished it.
            if launch.wait_for(set(PHASES[PHASES.index(phase):])) is None:
                launch.finish()
                continue
            time.sleep(after_s)
            running = launch.phase or ""
            launch.signal(sig)
            rc = launch.finish()
        print(f"{sig.name} {after_s:.2f} s into {phase}: landed in {running}, run took "
              f"{time.perf_counter() - started:.1f} s")
        if sig == signal.SIGKILL:
            killed_in.append(running)
        else:  # Ctrl-C: exit status 130 and a word on how to resume
            assert rc == 130, launch.output[-3000:]
            said = " ".join(launch.output.split())  # rich wraps lines at the terminal width
            assert "interrupted. Everything finished so far is saved; run the same command " \
                "again to resume." in said, said[-2000:]
            interrupted = True
        # What an interruption leaves is whole (but the torn tail an append may leave in a
        # log), and no call is in the store twice.
        run_artifacts.parse_all(out, torn_logs=True)
        keys = [key for key, _ in run_artifacts.calls(out)]
        assert len(keys) == len(set(keys))

    final = complete(config_file, out)
    print("SIGKILLs landed in:", killed_in, "; the last run did", [p for p, _ in final.started])
    # Every phase, unless one ran more than twice as fast as in the reference (a load spike
    # during the reference) and finished before its kill came.
    assert len(set(killed_in)) >= len(PHASES) - 1, f"kills landed in {killed_in}"
    assert interrupted

    # The same rows, in the same order, in every artifact; the same results.
    assert run_artifacts.differences(out, reference) == []
    candidates = run_artifacts.parse_all(out)["round-1/candidates.jsonl"]
    assert len({(c["question_id"], c["sample_index"]) for c in candidates}) == len(candidates) == 6

    # Every call stored once (none paid twice), and the same calls as the uninterrupted run.
    calls = run_artifacts.calls(out)
    assert len({key for key, _ in calls}) == len(calls)
    assert dict(calls) == dict(run_artifacts.calls(reference))

    # Training on CPU is deterministic, so even a model retrained after a kill is the same.
    assert run_artifacts.same_weights(out, reference)
    # Not checked: the temporary files of atomic writes a kill cut short stay behind, unused.
    print("left behind:", sorted(str(p.relative_to(out)) for p in out.rglob(".*")
                                 if p.suffix == ".tmp" or p.is_dir()))
