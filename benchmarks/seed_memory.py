"""Peak memory of `svdistill sample` and `svdistill verify` on 1,000 vs 100,000 seed questions.

Each phase runs as its own `python -m svdistill` process on the scripted zero-latency backend,
and its peak resident memory (the kernel's high-water mark, ru_maxrss from wait4) is read when
it exits. If the phases stream, the peak hardly grows with the number of seeds; the target is
a difference under 100 MB between the two sizes. The seed questions are generated
("What is A + B?", no reference answers, so verify's quality grading has nothing to grade and
the figures are the phases' own), written to a temporary folder and removed afterwards.

    python benchmarks/seed_memory.py                          # 1,000 vs 100,000 seeds, n = 4
    python benchmarks/seed_memory.py --sizes 1000 10000 --n 1 # a quicker look

Figures are printed, not asserted. With the default cascade (rules, cycle, factual,
correctness; v = 5, lazy) the echo-math judge's replies carry no verdict tag, so each candidate
costs one cycle vote (two calls) and is rejected as undecided: verify's cost here is the
cascade's bookkeeping, the call store and the files, which is what this measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
model:
  backend: scripted
seeds:
  path: {seeds}
sample:
  n: {n}
"""


def write_seeds(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            a, b = i // 1000, i % 1000
            f.write(json.dumps({"id": f"q{i}", "question": f"What is {a} + {b}? (#{i})"}) + "\n")


def peak_mib(args: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MiB, wall seconds, stderr tail) of one `python -m svdistill ARGS` process."""
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "svdistill", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read().decode("utf-8", "replace")  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own high-water mark
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # 1: verify rejected candidates on failed calls
        raise SystemExit(f"svdistill {' '.join(args)} failed ({proc.returncode}):\n{stderr}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started, stderr[-300:]


def measure(size: int, n: int, folder: Path) -> dict[str, float]:
    seeds = folder / f"seeds-{size}.jsonl"
    write_seeds(seeds, size)
    config = folder / f"config-{size}.yaml"
    config.write_text(CONFIG.format(seeds=seeds, n=n), encoding="utf-8")
    run = folder / f"run-{size}"
    out: dict[str, float] = {}
    for phase in ("sample", "verify"):
        mib, wall, _ = peak_mib([phase, str(config), "-o", str(run), "--no-progress"])
        out[f"{phase}_mib"], out[f"{phase}_s"] = mib, wall
    out["candidates_mib"] = (run / "candidates.jsonl").stat().st_size / 2**20
    out["calls_mib"] = (run / "calls.jsonl").stat().st_size / 2**20
    out["calls"] = sum(1 for _ in open(run / "calls.jsonl", "rb"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1_000, 100_000])
    parser.add_argument("--n", type=int, default=4, help="candidates per question (sample.n)")
    args = parser.parse_args()
    small, large = args.sizes
    with tempfile.TemporaryDirectory(prefix="svdistill-seed-memory-") as tmp:
        results = {size: measure(size, args.n, Path(tmp)) for size in (small, large)}
    print(f"scripted backend, sample.n={args.n}, default cascade (v=5, lazy); peak RSS per phase")
    print(f"{'seeds':>8} {'phase':>7} {'peak MiB':>9} {'wall s':>7} {'calls':>9} "
          f"{'candidates MiB':>15} {'calls MiB':>10}")
    for size, r in results.items():
        for phase in ("sample", "verify"):
            print(f"{size:>8,} {phase:>7} {r[f'{phase}_mib']:>9.1f} {r[f'{phase}_s']:>7.1f} "
                  f"{int(r['calls']):>9,} {r['candidates_mib']:>15.1f} {r['calls_mib']:>10.1f}")
    for phase in ("sample", "verify"):
        diff = results[large][f"{phase}_mib"] - results[small][f"{phase}_mib"]
        print(f"{phase}: {large:,} seeds - {small:,} seeds = {diff:+.1f} MiB (target < 100 MB)")


if __name__ == "__main__":
    main()
