"""Per-run cgroups (v1 layout): a memory cap that counts what RLIMIT_AS does not (memfd, tmpfs,
shared memory, page cache) and a process cap that holds for root, for whom the kernel ignores
RLIMIT_NPROC.

Each sandboxed process gets `svdistill-<grader pid>-<random>` under the grader's own cgroup of
each controller (read from /proc/self/cgroup). They are removed when the run ends, whatever way
it ends; a grader killed outright (SIGKILL) cannot do that, so the first run of every process
removes the leftovers of graders that no longer exist.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import signal
import time
import warnings
from pathlib import Path

__all__ = ["RunCgroup", "available", "remove_leftovers"]

BASE = Path("/sys/fs/cgroup")
_NAME = re.compile(r"svdistill-(\d+)-[0-9a-f]+")
# controller -> files written to cap it, in order (memsw must not be set below memory)
_LIMITS = {
    "memory": ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
    "pids": ("pids.max",),
}


def _own_dir(controller: str) -> Path | None:
    """This process's cgroup directory for a v1 controller, if that hierarchy is mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            where = BASE / controller / path.lstrip("/")
            return where if where.is_dir() else None
    return None


@functools.lru_cache(maxsize=1)
def available() -> dict[str, Path]:
    """{controller: directory to create run cgroups in} for each controller where creating one
    and writing its limit works here. Removes leftovers first (see module docstring)."""
    out = {}
    for controller in _LIMITS:
        parent = _own_dir(controller)
        if parent is None:
            continue
        remove_leftovers(parent)
        probe = parent / f"svdistill-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            probe.mkdir()
            try:
                (probe / _LIMITS[controller][0]).write_text("67108864" if controller == "memory"
                                                             else "8")
            finally:
                probe.rmdir()
        except OSError:
            continue
        out[controller] = parent
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_leftovers(parent: Path) -> list[Path]:
    """Remove run cgroups under `parent` whose grader process is gone; returns those removed."""
    removed = []
    for folder in parent.glob("svdistill-*-*"):
        m = _NAME.fullmatch(folder.name)
        if m and not _alive(int(m.group(1))) and _empty_and_remove(folder):
            removed.append(folder)
    return removed


def _empty_and_remove(folder: Path, tries: int = 50) -> bool:
    """SIGKILL every process in `folder`, then remove it (retrying while they die)."""
    for _ in range(tries):
        try:
            for pid in (folder / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            folder.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.02)
    return False


class RunCgroup:
    """One sandboxed process's cgroups, one per available controller."""

    def __init__(self, memory_mb: int, max_procs: int):
        self.folders: list[Path] = []
        name = f"svdistill-{os.getpid()}-{secrets.token_hex(6)}"
        values = {"memory": str(memory_mb << 20), "pids": str(max_procs)}
        try:
            for controller, parent in available().items():
                folder = parent / name
                folder.mkdir()
                self.folders.append(folder)
                for limit in _LIMITS[controller]:
                    if (folder / limit).exists():  # memsw: only with swap accounting
                        (folder / limit).write_text(values[controller])
        except OSError:
            self.remove()
            raise

    def join_command(self) -> list[str]:
        """A prefix that moves the command into the cgroups before it starts, so every
        process it creates is counted from the first."""
        if not self.folders:
            return []
        joins = " && ".join(f"echo $$ > {f / 'cgroup.procs'}" for f in self.folders)
        return ["/bin/sh", "-c", f'{joins} && exec "$@"', "sh"]

    def oom_killed(self) -> bool:
        """Whether the memory cap killed a process of this run."""
        for folder in self.folders:
            try:
                lines = (folder / "memory.oom_control").read_text().splitlines()
            except OSError:
                continue
            counts = dict(line.split() for line in lines if len(line.split()) == 2)
            if int(counts.get("oom_kill", "0")) > 0:
                return True
        return False

    def remove(self) -> None:
        """Kill whatever is left in the cgroups and remove them."""
        for folder in self.folders:
            if not _empty_and_remove(folder):
                warnings.warn(f"could not remove cgroup {folder}", RuntimeWarning, stacklevel=2)
        self.folders = []
