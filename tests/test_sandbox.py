"""The code sandbox, attacked property by property (see docs/sandbox.md).

Each attack runs as the candidate program. Where the attack is a program that checks its own
confinement (e.g. "connecting must fail"), the grade is True exactly when the attack was
contained. Properties that only the namespace sandbox gives are skipped, with the reason, on a
machine where `sandbox_level()` fell back to rlimits only.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

import pytest

import svdistill.grade.code as code
import svdistill.grade.sandbox as sandbox
from svdistill.grade.code import extract_code, humaneval_program, run_code_tests, sandbox_level

LEVEL = sandbox_level()
ISOLATED = LEVEL.startswith("namespaces")
PROCESS_CAP = "pids-cgroup" in LEVEL or os.getuid() != 0  # RLIMIT_NPROC is ignored for root
needs_ns = pytest.mark.skipif(
    not ISOLATED, reason=f"sandbox level is {LEVEL}: no bubblewrap isolation on this machine"
)


def run(program: str, **kw) -> object:
    return run_code_tests(program, "", None, **{"timeout_s": 5, **kw})


# --- ordinary grading -------------------------------------------------------------------------


def test_passing_program() -> None:
    g = run_code_tests("def f(x):\n    return x + 1\n", "assert f(1) == 2\n", None)
    assert g.correct is True
    assert f"[sandbox: {LEVEL}]" in g.reason


def test_failing_program() -> None:
    g = run_code_tests("def f(x):\n    return x\n", "assert f(1) == 2\n", None)
    assert g.correct is False and "AssertionError" in g.reason


def test_syntax_error() -> None:
    g = run_code_tests("def f(x)\n    return x\n", "assert f(1) == 1\n", None)
    assert g.correct is False and "SyntaxError" in g.reason


def test_humaneval_layout() -> None:
    prompt = 'def add(a, b):\n    """Add two numbers."""\n'
    tests = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    ok = run_code_tests(humaneval_program(prompt, "    return a + b\n"), tests, "add")
    bad = run_code_tests(humaneval_program(prompt, "    return a - b\n"), tests, "add")
    assert ok.correct is True and bad.correct is False


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_exiting_early_does_not_pass(exit_call: str) -> None:
    # A program that quits with status 0 before the tests run must not count as passing.
    g = run_code_tests(f"{exit_call}\n", "assert False\n", None)
    assert g.correct is False


def test_extract_code() -> None:
    reply = "draft:\n```python\nx = 1\n```\nfinal:\n```python\nx = 2\n```\n"
    assert extract_code(reply) == "x = 2\n"
    assert extract_code("```\ny = 3\n```") == "y = 3\n"
    assert extract_code("print(1)") == "print(1)"


def test_sandbox_failure_is_not_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a, **k):
        raise OSError("no cgroup for you")

    monkeypatch.setattr(code, "Child", broken)
    g = run_code_tests("pass\n", "", None)
    assert g.correct is None and "sandbox failed" in g.reason


# --- attacks ------------------------------------------------------------------------------------


def test_infinite_loop_times_out() -> None:
    t = time.monotonic()
    g = run("while True:\n    pass\n", timeout_s=1)
    assert g.correct is False and "timed out" in g.reason
    assert time.monotonic() - t < 5


def test_memory_bomb_is_capped() -> None:
    # One huge allocation and a growing list both hit RLIMIT_AS, not the machine's memory.
    g1 = run("x = bytearray(4 * 1024**3)\n", memory_mb=256)
    g2 = run("xs = []\nwhile True:\n    xs.append(bytearray(10**7))\n", memory_mb=256)
    assert g1.correct is False and "MemoryError" in g1.reason
    assert g2.correct is False


def test_output_bomb_is_capped() -> None:
    # RLIMIT_FSIZE stops a program from filling the disk (here via stdout into a file).
    g = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert g.correct is False
    assert "SIGXFSZ" in g.reason or "File too large" in g.reason, g.reason


@needs_ns
def test_disk_fill_is_capped() -> None:
    # Many files, each under the per-file limit: the work dir's tmpfs size is what stops them.
    program = """
chunk = b"x" * (8 * 1024 * 1024)
for i in range(40):
    with open(f"f{i}.bin", "wb") as f:
        f.write(chunk)
"""
    g = run(program)
    assert g.correct is False and "No space left" in g.reason, g.reason


def _alive_with_comm(name: str) -> list[str]:
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                alive.append(pid)
        except OSError:
            pass
    return alive


@pytest.mark.skipif(not PROCESS_CAP, reason="root without a writable pids cgroup: no process cap")
def test_fork_bomb_is_capped_and_cleaned_up() -> None:
    marker = "svdb" + secrets.token_hex(4)
    # Children rename themselves (prctl PR_SET_NAME) so we can look for survivors afterwards,
    # and call setsid() to try to escape the process-group kill.
    program = f"""
import ctypes, os, time
libc = ctypes.CDLL(None)
n = 0
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.setsid()
        libc.prctl(15, b"{marker}", 0, 0, 0)
        time.sleep(60)
        os._exit(0)
    n += 1
assert n < 2000, "the process cap never stopped the fork loop"
"""
    g = run(program, max_procs=16, timeout_s=10)
    assert g.correct is True, g.reason  # True: the loop hit the cap before 2000 forks
    time.sleep(0.2)
    assert _alive_with_comm(marker) == []


@pytest.mark.skipif(not PROCESS_CAP, reason="root without a writable pids cgroup: no process cap")
def test_recursive_fork_bomb_is_killed() -> None:
    marker = "svdr" + secrets.token_hex(4)
    program = f"""
import ctypes, os
ctypes.CDLL(None).prctl(15, b"{marker}", 0, 0, 0)
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    t = time.monotonic()
    g = run(program, max_procs=32, timeout_s=1)
    assert g.correct is False and time.monotonic() - t < 8
    time.sleep(0.2)
    assert _alive_with_comm(marker) == []


@needs_ns
def test_cannot_write_outside_workdir(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    g = run(f"open({str(target)!r}, 'w').write('pwned')\n")
    # tmp_path is under /tmp, which the child sees as an empty private tmpfs: the directory is
    # not there at all. Elsewhere the filesystem is read-only.
    assert g.correct is False
    assert "No such file" in g.reason or "Read-only file system" in g.reason, g.reason
    assert not target.exists()
    g = run("open('/usr/svdistill-escape.txt', 'w').write('pwned')\n")
    assert g.correct is False and "Read-only file system" in g.reason, g.reason


@needs_ns
def test_shared_tmp_is_private(tmp_path: Path) -> None:
    # Other runs' files (and any Unix sockets) in /tmp must not be visible.
    other = tmp_path / "other_run_output.txt"
    other.write_text("someone else's data")
    program = f"""
import os
assert not os.path.exists({str(other)!r})
entries = os.listdir("/tmp")
assert len(entries) <= 1, entries  # at most the path leading to our own work dir
"""
    g = run(program)
    assert g.correct is True, g.reason


def test_can_write_inside_workdir() -> None:
    g = run("open('scratch.txt', 'w').write('ok')\nassert open('scratch.txt').read() == 'ok'\n")
    assert g.correct is True, g.reason


@needs_ns
def test_network_is_unreachable() -> None:
    program = """
import socket
assert {name for _, name in socket.if_nameindex()} <= {"lo"}
for host in ("1.1.1.1", "8.8.8.8"):
    try:
        socket.create_connection((host, 53), timeout=2)
    except OSError:
        continue
    raise AssertionError("connected to " + host)
"""
    g = run(program)
    assert g.correct is True, g.reason


def test_parent_env_secret_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sv-" + secrets.token_hex(8)
    monkeypatch.setenv("SVDISTILL_SECRET", secret)
    program = f"""
import os
assert "SVDISTILL_SECRET" not in os.environ
assert not any({secret!r} in v for v in os.environ.values())
"""
    if ISOLATED:
        # Also not through another process's /proc/<pid>/environ (the grader's own included).
        program += f"""
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        data = open(f"/proc/{{pid}}/environ", "rb").read()
    except OSError:
        continue
    assert {secret!r}.encode() not in data, pid
"""
    g = run(program)
    assert g.correct is True, g.reason


@needs_ns
def test_grader_source_and_cwd_are_hidden() -> None:
    own = Path(code.__file__).resolve()
    program = f"""
import os
assert not os.path.exists({str(own)!r})
assert not os.path.exists({os.path.join(os.getcwd(), "pyproject.toml")!r})
"""
    g = run(program)
    assert g.correct is True, g.reason


@needs_ns
def test_home_secrets_are_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    monkeypatch.setenv("HOME", str(home))
    program = f"""
import os
assert not os.path.exists({str(home / ".ssh" / "id_rsa")!r})
"""
    g = run(program)
    assert g.correct is True, g.reason


@needs_ns
def test_home_holding_the_interpreter_shows_only_the_interpreter() -> None:
    # Here the interpreter may live under HOME (a pyenv in /root): that branch is visible,
    # read-only; every other entry of HOME is not there at all.
    home = os.path.expanduser("~")
    interpreter = os.path.realpath(sys.base_prefix)
    others = [os.path.join(home, e) for e in os.listdir(home)
              if not (interpreter + "/").startswith(os.path.realpath(os.path.join(home, e)) + "/")]
    program = f"""
import os, sys
assert not [p for p in {others!r} if os.path.lexists(p)]
assert os.path.realpath(sys.base_prefix) == {interpreter!r}
"""
    g = run(program)
    assert g.correct is True, g.reason


@needs_ns
def test_mounts_cannot_be_undone(tmp_path: Path) -> None:
    # The program is root in its user namespace; the nested namespace must still stop it from
    # remounting / writable or unmounting the tmpfs that hides the grader's source.
    own_dir = Path(code.__file__).resolve().parents[1]
    target = tmp_path / "escaped.txt"
    program = f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mount(None, b"/", None, 32 | 4096, None) != 0, "remounted / writable"
assert libc.umount2({str(own_dir).encode()!r}, 2) != 0, "unmounted the hiding tmpfs"
assert libc.umount2({os.getcwd().encode()!r}, 2) != 0, "unmounted the hiding tmpfs"
try:
    open({str(target)!r}, "w").write("pwned")
except OSError:
    pass
assert not os.path.exists({str(own_dir / "grade" / "code.py")!r})
"""
    g = run(program)
    assert g.correct is True, g.reason
    assert not target.exists()


def test_fallback_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda n: None if n == "bwrap" else which(n))
    sandbox_level.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="rlimits only"):
            level = sandbox_level()
        assert level.startswith("rlimits-only")
        g = run_code_tests("x = 1\n", "assert x == 1\n", None)
        assert g.correct is True and "rlimits-only" in g.reason
        assert run("while True:\n    pass\n", timeout_s=1).correct is False
    finally:
        sandbox_level.cache_clear()


def test_no_cgroups_left_behind() -> None:
    root = Path("/sys/fs/cgroup/pids")
    if not root.is_dir():
        pytest.skip("no pids cgroup hierarchy")
    assert not list(root.glob(f"svdistill-{os.getpid()}-*"))
