"""The walls around a graded program, built by bubblewrap (docs/sandbox.md lists each one and
the test that attacks it; keep the three in step).

A sandboxed process sees a fresh root holding only /usr (and the /bin, /lib links into it), the
Python installation, a two-line /etc/passwd and /etc/group, its own /proc, a minimal /dev, and
two size-capped tmpfs folders of its own (the work dir and /tmp); everything but those two is
read-only. It has no network but a loopback, its own PID, IPC and UTS namespaces, runs as uid
65534 (nobody) when the grader is root, and sits in a memory and a pids cgroup of its own.
rlimits cap CPU seconds, address space, file size and core files. Where bubblewrap is missing
or fails its probe, `sandbox_level()` says so and warns: the run then has rlimits only.

The child runs svdistill/grade/child.py; what it sends back is read here as data. Setup has
failed only when the child never wrote its ready line (the grader's own evidence); anything
after that line is the program's doing.
"""

from __future__ import annotations

import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import cgroups

__all__ = ["Child", "Limits", "describe_status", "sandbox_level", "session"]

NOBODY = 65534
WORK = "/sandbox"  # the work dir's path inside the walls
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1"}  # and HOME, TMPDIR: nothing of the grader's environment
_ETC = {
    "/etc/passwd": f"root:x:0:0:root:/:/usr/sbin/nologin\n"
                   f"nobody:x:{NOBODY}:{NOBODY}:nobody:{WORK}:/usr/sbin/nologin\n",
    "/etc/group": f"root:x:0:\nnogroup:x:{NOBODY}:\n",
}
_HERE = Path(__file__).resolve().parent
SETUP_TIMEOUT_S = 30.0  # bwrap + interpreter start on a loaded machine; not the program's time


@dataclass(frozen=True)
class Limits:
    """What one sandboxed process may use. `memory_mb` caps both its address space (rlimit)
    and everything its cgroup is charged for, tmpfs files and memfds included."""

    cpu_s: int
    memory_mb: int = 512
    max_procs: int = 64
    disk_mb: int = 64  # the work dir's tmpfs; /tmp gets a quarter
    fsize_mb: int = 16  # any one file, stdout and stderr included


@functools.lru_cache(maxsize=1)
def _child_source() -> str:
    # plaindata first: child.py uses its names and, inside the walls, cannot import svdistill
    return (_HERE / "plaindata.py").read_text() + "\n" + (_HERE / "child.py").read_text()


def _visible_trees() -> list[str]:
    """The Python installation's folders (venv and base), outside /usr."""
    trees = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix,
                                           os.path.dirname(os.path.realpath(sys.executable)))}
    out = []
    for t in sorted(trees):
        if t == "/usr" or t.startswith("/usr/") or any(t.startswith(o + "/") for o in out):
            continue
        out.append(t)
    return out


def _bwrap_args(data_fds: dict[str, int], limits: Limits) -> list[str]:
    """bwrap's options: the view described in the module docstring."""
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--tmpfs", "/",
            "--ro-bind", "/usr", "/usr"]
    if os.getuid() != 0:
        args.insert(0, "--unshare-user")  # unprivileged: bwrap needs a user namespace
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    made = {"/"}
    for tree in _visible_trees():
        # Folders bwrap creates on the way copy the host's modes (/root is 0700): make them
        # 0755 so uid nobody can reach the interpreter, which stays read-only.
        parts = Path(tree).parts
        for i in range(2, len(parts)):
            parent = str(Path(*parts[:i]))
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", tree, tree]
    for path, fd in data_fds.items():
        # Mode 0666, yet not writable: the read-only mount refuses every write (EROFS).
        args += ["--perms", "0666", "--ro-bind-data", str(fd), path]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.disk_mb << 18), "--perms", "01777", "--tmpfs", "/dev/shm",
             "--size", str(limits.disk_mb << 18), "--perms", "01777", "--tmpfs", "/tmp",
             "--size", str(limits.disk_mb << 20), "--perms", "0777", "--tmpfs", WORK,
             "--chdir", WORK, "--remount-ro", "/"]
    return args


def _drop_uid() -> list[str]:
    setpriv = shutil.which("setpriv")
    if os.getuid() != 0 or not setpriv:
        return []
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--"]


def describe_status(rc: int | None) -> str:
    if rc is None:
        return "still running"
    if rc >= 0:
        return f"exit status {rc}"
    try:
        return f"killed by {signal.Signals(-rc).name}"
    except ValueError:
        return f"killed by signal {-rc}"


def _tail(f: IO[bytes], n: int = 4000) -> str:
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - n))
    return f.read().decode("utf-8", "replace")


class Child:
    """One sandboxed process running child.py in `role`. `fds` maps the names child.py reads
    ("requests", "replies") to pipe ends to hand over; `stdin` is a file for its stdin."""

    def __init__(self, role: str, payload: dict[str, Any], limits: Limits, walls: str,
                 fds: dict[str, int] | None = None, stdin: IO[bytes] | None = None):
        self.role, self.walls = role, walls
        self.cgroup = cgroups.RunCgroup(limits.memory_mb, limits.max_procs + 4) \
            if "cgroup" in walls else None
        self.stdout, self.stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self._buffer = b""
        self._workdir = None if walls.startswith("namespaces") else \
            tempfile.TemporaryDirectory(prefix="svdistill-run-")
        control = tempfile.TemporaryFile()
        cfg = {"role": role, **payload, "cpu_s": limits.cpu_s, "memory_mb": limits.memory_mb,
               "fsize_mb": limits.fsize_mb,
               "uid": NOBODY if "uid" in walls else None,
               "nproc": None if "pids-cgroup" in walls else _user_processes() + limits.max_procs}
        control.write(json.dumps(cfg).encode())
        control.seek(0)
        ready_r, ready_w = os.pipe()
        data = {}
        if self._workdir is None:
            for path, text in _ETC.items():
                r, w = os.pipe()
                os.write(w, text.encode())
                os.close(w)
                data[path] = r
        child_fds = {"control": control.fileno(), "ready": ready_w, **(fds or {})}
        # The interpreter itself, not a venv's link to it: the child needs no package (it runs
        # isolated, -I), and a venv under /tmp would be hidden by the sandbox's own /tmp.
        cmd = [os.path.realpath(sys.executable), "-I", "-B", "-c", _child_source(),
               json.dumps(child_fds)]
        if self._workdir is None:
            bwrap = shutil.which("bwrap") or "bwrap"
            cmd = [bwrap, *_bwrap_args(data, limits), "--", *_drop_uid(), *cmd]
        if self.cgroup:
            cmd = self.cgroup.join_command() + cmd
        home = WORK if self._workdir is None else self._workdir.name
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=stdin or subprocess.DEVNULL, stdout=self.stdout, stderr=self.stderr,
                cwd=home if self._workdir else "/", env={**_ENV, "HOME": home, "TMPDIR": home
                                                         if self._workdir else "/tmp"},
                pass_fds=[*child_fds.values(), *data.values()], start_new_session=True)
        except BaseException:
            os.close(ready_r)
            if self.cgroup:
                self.cgroup.remove()
            raise
        finally:
            for fd in (ready_w, *data.values()):
                os.close(fd)
            control.close()
        self._ready = ready_r

    def _line(self, timeout: float) -> bytes | None:
        """The next line on the private pipe; b"" at its end, None when `timeout` ran out."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._ready], [], [], left)[0]:
                return None
            chunk = os.read(self._ready, 65536)
            if not chunk:
                return b""
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def wait_ready(self) -> str | None:
        """None once the child is ready; else why the sandbox could not be set up."""
        line = self._line(SETUP_TIMEOUT_S)
        if line == b"ready":
            return None
        if line is None:
            return f"the sandbox was not ready after {SETUP_TIMEOUT_S:g}s"
        self.status(2)
        err = _tail(self.stderr).strip()[-300:] or "no output"
        return f"the sandbox could not start ({describe_status(self.proc.poll())}): {err}"

    def verdict(self, timeout: float) -> dict[str, Any] | None:
        """The tests role's verdict; None on timeout, {} if it ended without one."""
        line = self._line(timeout)
        if line is None:
            return None
        try:
            return json.loads(line) if line else {}
        except ValueError:
            return {}

    def status(self, wait: float = 0.0) -> int | None:
        try:
            return self.proc.wait(timeout=wait) if wait else self.proc.poll()
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> tuple[str, str]:
        """The tails of stdout and stderr, for reasons."""
        return _tail(self.stdout), _tail(self.stderr)

    def full_stdout(self) -> str:
        """All of stdout (RLIMIT_FSIZE bounds it)."""
        self.stdout.seek(0)
        return self.stdout.read().decode("utf-8", "replace")

    def stop(self) -> None:
        """Kill the child and everything it started, and release what it held."""
        if self.stdout.closed:
            return
        _kill_all(self.proc, launcher=self._workdir is None)
        if self.cgroup:
            self.cgroup.remove()
        os.close(self._ready)
        self.stdout.close()
        self.stderr.close()
        if self._workdir:
            self._workdir.cleanup()


def _kill_all(proc: subprocess.Popen, launcher: bool) -> None:
    """Kill the launcher's children first and let bwrap reap them (killed together, the
    orphaned namespace init would go to PID 1, which in some containers never reaps), then the
    whole process group. The cgroup catches anything that left the group with setsid()."""
    kids: list[str] = []
    if launcher:
        try:
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            pass
    for kid in kids:
        try:
            os.kill(int(kid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    if kids:
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _user_processes() -> int:
    """RLIMIT_NPROC counts every process of the uid, not only ours: the headroom to leave."""
    uid, n = os.getuid(), 0
    for d in os.listdir("/proc"):
        try:
            n += d.isdigit() and os.stat(f"/proc/{d}").st_uid == uid
        except OSError:
            pass
    return n


@contextmanager
def session():
    """Yields a list to put Children in; stops every one on the way out, however it goes.
    SIGTERM (how evaluations are usually stopped) would kill the grader without running any
    cleanup, so while a session is open in the main thread it raises SystemExit instead."""
    children: list[Child] = []
    previous = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def stop(signum, frame):
            raise SystemExit(128 + signum)

        previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield children
    finally:
        for child in children:
            child.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_PROBE = """
import json, os, socket
facts = {"uid": os.getuid()}
open("probe.txt", "w").write("the work dir must be writable")
try:
    open("/usr/.svdistill-probe", "w")
    facts["usr_writable"] = True
except OSError:
    pass
facts["hidden"] = not any(os.path.lexists(p) for p in HIDDEN)
s = socket.socket()
s.settimeout(1)
facts["net"] = s.connect_ex(("10.255.255.1", 80)) in (0, 11, 110, 115)
print(json.dumps(facts))
"""


def _should_be_hidden() -> list[str]:
    """A few paths the probe must not see: the caller's cwd, this package and entries of HOME
    that do not lead to the interpreter."""
    home = os.path.expanduser("~")
    trees = _visible_trees()
    try:
        entries = sorted(os.path.join(home, e) for e in os.listdir(home))
    except OSError:
        entries = []
    leads = [e for e in entries if not any((t + "/").startswith(os.path.realpath(e) + "/")
                                           for t in trees)]
    return [os.getcwd(), str(_HERE), *leads[:5]]


def _probe(walls: str) -> str | None:
    """None when a probe program run inside `walls` found each wall standing; else why not."""
    program = _PROBE.replace("HIDDEN", repr(_should_be_hidden()))
    with session() as children:
        child = Child("stdio", {"program": program}, Limits(cpu_s=10), walls)
        children.append(child)
        error = child.wait_ready()
        if error:
            return error
        child.status(SETUP_TIMEOUT_S)
        out, err = child.output()
    try:
        facts = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"the probe printed no facts: {err.strip()[-300:]}"
    want = {"uid": NOBODY if "uid" in walls else facts.get("uid"), "net": False, "hidden": True}
    wrong = {k: facts.get(k) for k, v in want.items() if facts.get(k) != v}
    if facts.get("usr_writable"):
        wrong["usr_writable"] = True
    return f"the probe found {wrong}" if wrong else None


@functools.lru_cache(maxsize=1)
def sandbox_level() -> str:
    """Probe once which walls stand here and name them, e.g.
    "namespaces:bwrap+uid-65534+memory-cgroup+pids-cgroup". "rlimits-only" means bubblewrap
    is missing or failed its probe. Every wall that is missing is named in a RuntimeWarning, and
    every Grade.reason ends with this level, so a result file says how its code was held."""
    caps = cgroups.available()
    cg = "".join(f"+{c}-cgroup" for c in ("memory", "pids") if c in caps)
    missing = [f"a {c} cgroup" for c in ("memory", "pids") if c not in caps]
    level, why = "rlimits-only" + cg, "bubblewrap (bwrap) is not installed"
    if shutil.which("bwrap"):
        walls = "namespaces:bwrap" + ("+uid-65534" if _drop_uid() else "") + cg
        why = _probe(walls) or ""
        if not why:
            level = walls
    if level.startswith("rlimits-only"):
        warnings.warn(
            f"svdistill sandbox: {why}. Code runs with rlimits only: it CAN use the network, "
            "read and write what this user can and see other processes. Do not grade untrusted "
            "code on this machine (scripts/install.sh installs bubblewrap).",
            RuntimeWarning, stacklevel=2)
    elif "uid" not in level or missing:
        lacking = (["a uid of its own (the grader is not root)"] if "uid" not in level else [])
        warnings.warn(f"svdistill sandbox: no {' and no '.join(lacking + missing)} here; "
                      "docs/sandbox.md says what that leaves open.", RuntimeWarning, stacklevel=2)
    return level
