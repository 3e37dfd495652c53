"""Code grading: run a candidate program and its unit tests in a sandboxed Python subprocess.

What the sandbox does and does not protect against is written up in docs/sandbox.md; keep the
two in step. In short, every run gets:
  * a fresh temporary directory as cwd (and HOME, TMPDIR), removed afterwards;
  * a minimal environment (the parent's variables, secrets included, are not passed);
  * `python -I` (no user site, no PYTHON* variables, script dir not on sys.path);
  * rlimits set in the child: CPU seconds, address space, file size, no core files, processes;
  * a wall-clock timeout, its own session, and the whole process group killed at the end;
  * where the machine allows (probed once, see `sandbox_level()`): new user, network, PID, mount
    and IPC namespaces via `unshare` (or `bwrap`), in which every mount is read-only except the
    work directory; /tmp, /var/tmp, /run and /dev/shm are empty private tmpfs; the svdistill
    source, the caller's cwd and HOME are hidden; the mounts are locked by a nested user
    namespace so the program cannot undo them; there is no network interface but loopback;
  * where a pids cgroup is writable: a hard cap on the number of processes (RLIMIT_NPROC is not
    enforced for root, so as root this cgroup is what stops a fork bomb).
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from svdistill.records import Grade

__all__ = ["extract_code", "run_code_tests", "humaneval_program", "sandbox_level"]

_SETUP_FAILED = 121  # exit status the bootstrap uses when it could not build the sandbox

# Runs in the child, before any candidate code: build the sandbox from inside the namespaces,
# set rlimits, read the pass token from stdin, then run program + tests as __main__. The token
# reaches the child only through stdin, read before the candidate runs, so a program that exits
# early with status 0 does not count as passing.
_BOOT = r"""
import ctypes, json, os, resource, sys, traceback
cfg = json.loads(sys.argv[1])
def fail(msg):
    sys.stderr.write("SANDBOX SETUP FAILED: " + msg + "\n"); sys.stderr.flush(); os._exit(121)
if cfg["mounts"]:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
    RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
    keep = {"nosuid": NOSUID, "nodev": NODEV, "noexec": NOEXEC, "noatime": 1024,
            "nodiratime": 2048, "relatime": 1 << 21}
    def mount(src, dst, fs, flags, data=None):
        enc = lambda s: None if s is None else s.encode()
        if libc.mount(enc(src), enc(dst), enc(fs), flags, enc(data)) != 0:
            return os.strerror(ctypes.get_errno())
    # Fresh empty tmpfs over the shared scratch dirs (/tmp, /run, ...): other runs' files and any
    # Unix sockets there (a read-only mount does not stop connect()) disappear.
    wd = cfg["cwd"]
    main_py = os.path.join(wd, "main.py")
    source = open(main_py, "rb").read() if os.path.exists(main_py) else b""
    for top in cfg["private"]:
        err = mount("tmpfs", top, "tmpfs", NOSUID | NODEV, "size=1m,mode=1777")
        if err:
            fail("cannot cover " + top + ": " + err)
    # The work dir becomes its own size-capped tmpfs (a disk-filling program stops at disk_mb),
    # holding a copy of main.py. Being a separate mount, the read-only pass below skips it.
    os.makedirs(wd, exist_ok=True)
    err = mount("tmpfs", wd, "tmpfs", NOSUID | NODEV, "size=%dm,mode=700" % cfg["disk_mb"])
    if err:
        fail("cannot mount the work dir: " + err)
    with open(main_py, "wb") as f:
        f.write(source)
    # Make every mount read-only. Flags inherited from the parent namespace are locked, so the
    # remount must repeat them or the kernel refuses it.
    for line in open("/proc/self/mountinfo"):
        parts = line.split()
        point = parts[4].encode().decode("unicode_escape")
        if point == cfg["cwd"]:
            continue
        flags = RDONLY | REMOUNT | BIND
        for opt in parts[5].split(","):
            flags |= keep.get(opt, 0)
        err = mount(None, point, None, flags)
        if err and point == "/":
            fail("cannot make / read-only: " + err)
    for path in cfg["hide"]:
        if os.path.islink(path):
            continue  # mounting on a link would cover its target, wherever that is
        if os.path.isdir(path):
            err = mount("tmpfs", path, "tmpfs", RDONLY | NOSUID | NODEV, "size=4k,mode=555")
        elif os.path.isfile(path):
            err = mount("/dev/null", path, None, BIND)
        else:
            continue
        if err and os.path.lexists(path):  # vanished since the parent listed it: nothing to hide
            fail("cannot hide " + path + ": " + err)
    # We are root of our user namespace, and so could undo all of the above (remount / rw, unmount
    # a hiding tmpfs) -- and so could the program. Entering a nested user + mount namespace locks
    # every mount's flags and the mounts themselves: from here on nothing can be remounted
    # writable or unmounted. No uid map is written: file access keeps using the same ids.
    if libc.unshare(0x10000000 | 0x00020000) != 0:  # CLONE_NEWUSER | CLONE_NEWNS
        fail("cannot lock the mounts: " + os.strerror(ctypes.get_errno()))
    os.chdir(cfg["cwd"])
    try:
        open("/.svdistill-probe", "w")
        fail("/ is still writable")
    except OSError:
        pass
mb = 1 << 20
limits = [(resource.RLIMIT_CPU, cfg["cpu"]), (resource.RLIMIT_AS, cfg["mem_mb"] * mb),
          (resource.RLIMIT_FSIZE, cfg["fsize_mb"] * mb), (resource.RLIMIT_CORE, 0),
          (resource.RLIMIT_NPROC, cfg["nproc"])]
for which, value in limits:
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError) as e:
        fail("setrlimit %s: %s" % (which, e))
def main(cfg):
    # The token lives only in this frame, not in a module global a program could import.
    token = sys.stdin.readline().strip()
    sys.stdin.close()
    sys.stdin = open(os.devnull)
    if cfg.get("probe"):
        import socket
        open("probe.txt", "w").write("the work dir must be writable")
        try:
            open("/usr/.svdistill-probe", "w").close()
            os.unlink("/usr/.svdistill-probe")  # should never get here; leave nothing behind
            print(json.dumps({"fs_writable": True}))
        except OSError:
            pass
        s = socket.socket()
        s.settimeout(1)
        net = s.connect_ex(("10.255.255.1", 80)) in (0, 11, 110, 115)  # connected or trying
        print(json.dumps({"net": net}))
        print(token)
        return 0
    path = os.path.join(cfg["cwd"], "main.py")
    src = open(path, encoding="utf-8").read()
    glb = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
    try:
        exec(compile(src, path, "exec"), glb)
    except SystemExit as e:
        if e.code not in (None, 0):
            raise
        sys.stderr.write("program exited before the tests finished\n")
        return 3
    except BaseException:
        traceback.print_exc()
        return 1
    sys.stdout.flush()
    print(token, flush=True)
    return 0
del fail, limits
sys.exit(main(cfg))
"""

# Scratch directories every run gets an empty private copy of (namespace sandbox only).
_PRIVATE = ("/tmp", "/var/tmp", "/run", "/dev/shm")

_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONIOENCODING": "utf-8",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
}


def extract_code(text: str) -> str:
    """The last ```python (or ```py) fenced block in a reply; else the last bare ``` block; else
    the whole text. Models often show a wrong draft before the final program, hence "last"."""
    blocks = re.findall(r"```[ \t]*(?:python3?|py)[ \t]*\n(.*?)```", text, re.DOTALL | re.I)
    if not blocks:
        blocks = re.findall(r"```[ \t]*\n(.*?)```", text, re.DOTALL)
    return blocks[-1] if blocks else text


def humaneval_program(prompt: str, completion: str) -> str:
    """HumanEval layout: the prompt (signature and docstring) followed by the completion body."""
    return prompt + completion


def _hidden_paths(workdir: str) -> list[str]:
    """Paths to cover (dirs with an empty tmpfs, files with /dev/null): our own source, the
    caller's cwd and HOME. Where the interpreter or the work dir lives inside one of them (a
    pyenv under HOME, a venv in the repo), that one stays visible and its other entries are
    hidden one by one instead."""
    needed = [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.executable, workdir)]

    def inside(path: str, top: str) -> bool:
        return path == top or path.startswith(top.rstrip(os.sep) + os.sep)

    candidates = [str(Path(__file__).resolve().parents[1]), os.getcwd(), os.path.expanduser("~")]
    out: list[str] = []
    for top in dict.fromkeys(os.path.realpath(p) for p in candidates):
        if top == "/" or any(inside(top, n) for n in needed):
            continue  # hiding / or a parent of the interpreter would break the run
        if not any(inside(n, top) for n in needed):
            out.append(top)
            continue
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for e in entries:
            if not e.is_symlink() and not any(inside(n, e.path) for n in needed):
                out.append(e.path)
    return out


@functools.lru_cache(maxsize=1)
def _pids_cgroup_root() -> str | None:
    """A pids-controller directory we may create cgroups in (v1 layout), or None."""
    base = "/sys/fs/cgroup/pids"
    probe = os.path.join(base, f"svdistill-probe-{os.getpid()}")
    try:
        os.mkdir(probe)
        try:
            Path(probe, "pids.max").write_text("8")
        finally:
            os.rmdir(probe)
        return base
    except OSError:
        return None


def _wrapper(kind: str) -> list[str] | None:
    """Command prefix that enters the namespaces for `kind`, or None if the tool is missing."""
    if kind == "unshare" and shutil.which("unshare"):
        return [
            shutil.which("unshare") or "unshare",
            "--user",
            "--map-root-user",
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--mount-proc",
            "--ipc",
            "--",
        ]
    if kind == "bwrap" and shutil.which("bwrap"):
        # bwrap builds the read-only view itself; the bootstrap then only sets rlimits.
        return [
            shutil.which("bwrap") or "bwrap",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
        ]
    return None


def _launch(
    kind: str, workdir: str, cfg: dict, timeout_s: float, cgroup_root: str | None
) -> tuple[int | None, str, str, str]:
    """Run the bootstrap once. Returns (returncode or None on timeout, stdout, stderr, token)."""
    token = secrets.token_hex(16)
    cmd: list[str] = []
    if kind == "bwrap":
        cmd = _wrapper("bwrap") or []
        for top in cfg["private"]:
            cmd += ["--tmpfs", top]
        for h in cfg["hide"]:
            if os.path.isdir(h) and not os.path.islink(h):
                cmd += ["--tmpfs", h, "--remount-ro", h]
            elif os.path.isfile(h) and not os.path.islink(h):
                cmd += ["--ro-bind", "/dev/null", h]
        # bwrap applies its options in order, so the work dir is bound after the /tmp cover.
        cmd += ["--bind", workdir, workdir, "--chdir", workdir, "--"]
        cfg = {**cfg, "mounts": False}
    elif kind == "unshare":
        cmd = _wrapper("unshare") or []
    cmd += [sys.executable, "-I", "-B", "-c", _BOOT, json.dumps(cfg)]
    cgroup = None
    if cgroup_root:
        cgroup = os.path.join(cgroup_root, f"svdistill-{os.getpid()}-{token[:8]}")
        os.mkdir(cgroup)
        Path(cgroup, "pids.max").write_text(str(cfg["nproc_cap"]))
        # Join the cgroup before anything else runs, so every descendant is counted.
        cmd = ["/bin/sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh", *cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            cwd=workdir,
            env={**_ENV, "HOME": workdir, "TMPDIR": workdir},
            start_new_session=True,
        )
        try:
            proc.stdin.write((token + "\n").encode())  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass  # the child died before reading; its status tells why
        try:
            rc: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            rc = None
        _kill_all(proc, cgroup, launcher=kind in ("unshare", "bwrap"))
        out.seek(0)
        err.seek(0)
        # Output is capped by RLIMIT_FSIZE in the child; read only the tail we report.
        return rc, _tail(out.read()), _tail(err.read()), token


def _tail(data: bytes, n: int = 4000) -> str:
    return data[-n:].decode("utf-8", "replace")


def _kill_all(proc: subprocess.Popen, cgroup: str | None, launcher: bool) -> None:
    """Kill the process group, then anything left in the cgroup (a child may have left the group
    with setsid), then remove the cgroup."""
    # Kill the launcher's children first and let the launcher (unshare/bwrap) reap them: killed
    # together, the orphaned namespace init would be left to PID 1, which in some containers
    # never reaps, leaving a zombie per run.
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
    if not cgroup:
        return
    for _ in range(50):
        try:
            pids = Path(cgroup, "cgroup.procs").read_text().split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.rmdir(cgroup)
            return
        except OSError:
            time.sleep(0.02)
    warnings.warn(f"could not remove cgroup {cgroup}", RuntimeWarning, stacklevel=2)


def _base_cfg(workdir: str, timeout_s: float, memory_mb: int, max_procs: int) -> dict:
    return {
        "cwd": workdir,
        "hide": _hidden_paths(workdir),
        "private": [p for p in _PRIVATE if os.path.isdir(p) and not os.path.islink(p)],
        "mounts": True,
        "cpu": max(1, int(timeout_s) + 1),
        "mem_mb": memory_mb,
        "fsize_mb": 16,
        "disk_mb": 64,
        # RLIMIT_NPROC counts every process of the real user, not just ours; leave headroom.
        "nproc": _user_process_count() + max_procs,
        "nproc_cap": max_procs,
    }


def _user_process_count() -> int:
    uid = os.getuid()
    n = 0
    for d in os.listdir("/proc"):
        try:
            n += d.isdigit() and os.stat(f"/proc/{d}").st_uid == uid
        except OSError:
            pass
    return n


@functools.lru_cache(maxsize=1)
def sandbox_level() -> str:
    """Probe once which isolation works here and return its name.

    "namespaces": unshare/bwrap ran the probe with no network and a read-only filesystem.
    "rlimits-only": neither worked; a warning is emitted and every Grade.reason says so.
    A "+pids-cgroup" suffix means a hard process cap is in place as well.
    """
    cg = "+pids-cgroup" if _pids_cgroup_root() else ""
    for kind in ("unshare", "bwrap"):
        if _wrapper(kind) is None:
            continue
        with tempfile.TemporaryDirectory(prefix="svdistill-probe-") as wd:
            cfg = {**_base_cfg(wd, 5, 512, 32), "probe": True}
            rc, out, err, token = _launch(kind, wd, cfg, 10.0, None)
            lines = out.strip().splitlines()
            if (
                rc == 0
                and lines
                and lines[-1] == token
                and '"net": false' in out
                and "fs_" not in out
            ):
                return f"namespaces:{kind}{cg}"
    warnings.warn(
        "svdistill sandbox: neither `unshare` nor `bwrap` could isolate the child (no user "
        "namespaces?). Code runs with rlimits only: it CAN use the network and write anywhere "
        "this user can. Do not grade untrusted code on this machine.",
        RuntimeWarning,
        stacklevel=2,
    )
    return f"rlimits-only{cg}"


def run_code_tests(
    program: str,
    tests: str,
    entry_point: str | None,
    timeout_s: float = 10,
    memory_mb: int = 512,
    max_procs: int = 64,
) -> Grade:
    """Run `program` followed by `tests` in the sandbox; passing means the tests ran to the end.

    With `entry_point` (HumanEval layout) the tests define `check(candidate)` and
    `check(<entry_point>)` is appended. Returns True (all tests passed), False (failure,
    exception, syntax error, timeout, resource limit) or None (the sandbox itself failed).
    `Grade.reason` always names the sandbox level used. To check the gold first (STYLE.md), run
    the benchmark's canonical solution through this once per problem and skip problems where it
    does not pass.
    """
    level = sandbox_level()
    kind = level.split(":")[1].split("+")[0] if level.startswith("namespaces") else "none"
    source = program.rstrip() + "\n\n" + tests.rstrip() + "\n"
    if entry_point:
        if not entry_point.isidentifier():
            return Grade(None, None, f"bad entry point {entry_point!r}")
        source += f"\ncheck({entry_point})\n"
    tag = f"[sandbox: {level}]"
    try:
        data = source.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: no Python file can hold this program
        where = f"U+{ord(source[e.start]):04X} at character {e.start}"
        return Grade(False, None, f"the program is not valid Unicode: {where} {tag}")
    with tempfile.TemporaryDirectory(prefix="svdistill-run-") as wd:
        Path(wd, "main.py").write_bytes(data)
        cfg = _base_cfg(wd, timeout_s, memory_mb, max_procs)
        if kind == "none":
            cfg["mounts"] = False
        cg_root = _pids_cgroup_root() if "pids-cgroup" in level else None
        try:
            rc, out, err, token = _launch(kind, wd, cfg, timeout_s, cg_root)
        except OSError as e:  # cgroup or exec trouble: the grader failed, not the program
            return Grade(None, None, f"sandbox failed: {e} {tag}")
    lines = out.strip().splitlines()
    if rc == _SETUP_FAILED and "SANDBOX SETUP FAILED" in err:
        return Grade(None, None, f"sandbox failed: {err.strip()[-300:]} {tag}")
    if rc is None:
        return Grade(False, None, f"timed out after {timeout_s:g}s {tag}")
    if rc == 0 and lines and lines[-1] == token:
        return Grade(True, None, f"all tests passed {tag}")
    last = err.strip().splitlines()[-1] if err.strip() else "no output"
    if rc == 0:
        last = "the program ended without finishing the tests (os._exit?)"
    try:
        why = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
    except ValueError:
        why = f"killed by signal {-rc}"
    return Grade(False, None, f"tests failed ({why}): {last[:300]} {tag}")
