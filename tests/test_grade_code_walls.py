"""The sandbox's walls that the namespace-only sandbox lacked, attacked (docs/sandbox.md): the
grader's uid, files outside the view, memory RLIMIT_AS does not count, and cgroups left behind.

Each attack is a program that checks its own confinement, so the grade is True exactly when
the wall held. Where a wall cannot be built on this machine the test skips with the reason, and
sandbox_level() says the same.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from svdistill.grade import cgroups
from svdistill.grade.code import run_code_tests, sandbox_level

LEVEL = sandbox_level()
SRC = Path(__file__).resolve().parents[1] / "src"
needs = {
    wall: pytest.mark.skipif(wall not in LEVEL, reason=f"sandbox level is {LEVEL}: no {wall}")
    for wall in ("bwrap", "uid-65534", "memory-cgroup", "pids-cgroup")
}


def run(program: str, **kw):
    return run_code_tests(program, "", None, **{"timeout_s": 5, **kw})


@needs["uid-65534"]
def test_runs_as_nobody_not_as_the_grader() -> None:
    g = run("import os\nassert (os.getuid(), os.geteuid(), os.getgid()) == (65534,) * 3\n"
            "assert os.getgroups() == []\n")
    assert g.correct is True, g.reason


@needs["bwrap"]
def test_root_only_files_are_not_readable() -> None:
    g = run("""
for path in ("/etc/shadow", "/root/.bash_history", "/proc/1/environ"):
    try:
        open(path, "rb").read()
    except OSError:
        continue
    raise AssertionError("read " + path)
""")
    assert g.correct is True, g.reason


@needs["bwrap"]
def test_other_checkouts_are_not_visible() -> None:
    # A sibling of this checkout (another branch's worktree, say), outside HOME and /tmp.
    parent = Path.cwd().parent
    try:
        other = Path(tempfile.mkdtemp(prefix="svdistill-other-checkout-", dir=parent))
    except OSError:
        pytest.skip(f"cannot create a folder beside the checkout in {parent}")
    try:
        (other / "secret.txt").write_text("another checkout's data")
        g = run(f"import os\nassert not os.path.lexists({str(other)!r})\n")
        assert g.correct is True, g.reason
    finally:
        (other / "secret.txt").unlink()
        other.rmdir()


MEMFD = """
import os
chunk = b"x" * (1 << 20)
held = [os.memfd_create("hold") for _ in range(15)]  # 150 MiB, each under the file-size cap
for fd in held:
    for _ in range(10):
        os.write(fd, chunk)
"""


@needs["memory-cgroup"]
def test_memory_in_memfds_counts_against_the_cap() -> None:
    g = run(MEMFD, memory_mb=64)
    assert g.correct is False and "memory cap" in g.reason, g.reason
    ok = run(MEMFD, memory_mb=256, timeout_s=20)  # the same program, with room for it
    assert ok.correct is True, ok.reason


@needs["memory-cgroup"]
def test_shared_memory_counts_against_the_cap() -> None:
    program = """
chunks = []
for i in range(15):
    with open(f"/dev/shm/f{i}", "wb") as f:
        f.write(b"x" * (10 << 20))
"""
    g = run(program, memory_mb=64)
    assert g.correct is False, g.reason


def _leftovers() -> list[Path]:
    return [p for parent in cgroups.available().values()
            for p in parent.glob("svdistill-*-*")]


@pytest.mark.skipif(not cgroups.available(), reason="no writable cgroup here")
def test_a_grader_stopped_by_sigterm_leaves_no_cgroup() -> None:
    script = ("from svdistill.grade.code import run_code_tests\n"
              "run_code_tests('while True:\\n    pass\\n', '', None, timeout_s=60)\n")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    grader = subprocess.Popen([sys.executable, "-W", "ignore", "-c", script], env=env)
    try:
        mine = f"svdistill-{grader.pid}-"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                p.name.startswith(mine) for p in _leftovers()):
            time.sleep(0.05)
        assert any(p.name.startswith(mine) for p in _leftovers()), "the run never started"
        time.sleep(0.3)  # the program is running now
        grader.send_signal(signal.SIGTERM)
        assert grader.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        grader.kill()
        grader.wait()
    assert not [p for p in _leftovers() if p.name.startswith(mine)]


@pytest.mark.skipif(not cgroups.available(), reason="no writable cgroup here")
def test_leftovers_of_dead_graders_are_removed() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = os.getpid()
    parent = next(iter(cgroups.available().values()))
    stale = parent / f"svdistill-{dead.pid}-{secrets.token_hex(6)}"
    kept = parent / f"svdistill-{alive}-{secrets.token_hex(6)}"
    stale.mkdir()
    kept.mkdir()
    try:
        assert cgroups.remove_leftovers(parent) == [stale]
        assert not stale.exists() and kept.exists()
    finally:
        for p in (stale, kept):
            if p.exists():
                p.rmdir()
