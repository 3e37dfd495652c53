"""Orchestration overhead as a share of wall time, on the embedded model.

Runs the sample and verify phases (the real `run_sample` and `run_verify`, call store included)
on a few built-in seed questions with the embedded backend, timing every moment the engine
holds the thread (inside its `stream`). Whatever remains of each phase's wall time is
orchestration: building prompts, hashing and storing calls, parsing votes, the cascade's
bookkeeping, writing the run files. Both figures come from the same run, so the share holds up
on a loaded machine better than either time alone. Target: under 2%.

    python benchmarks/orchestration_overhead.py                       # 4 seeds, n=2, v=2
    python benchmarks/orchestration_overhead.py --seeds 8 --max-tokens 192
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator, Sequence

from svdistill.backends import make_backend
from svdistill.backends.base import Backend, Completion, Request
from svdistill.config import load_config
from svdistill.runfolder import RunFolder
from svdistill.sample import run_sample
from svdistill.verify import run_verify


class TimedBackend(Backend):
    """An engine whose time inside `generate` / `stream` is added up in `engine_s`."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self.batch_size = inner.batch_size
        self.engine_s = 0.0

    @property
    def identity(self) -> str:
        return self.inner.identity

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        started = time.perf_counter()
        try:
            return self.inner.generate(requests)
        finally:
            self.engine_s += time.perf_counter() - started

    def stream(self, requests: Sequence[Request]) -> Iterator[tuple[int, Completion]]:
        replies = self.inner.stream(requests)
        while True:
            started = time.perf_counter()
            try:
                item = next(replies)
            except StopIteration:
                return
            finally:
                self.engine_s += time.perf_counter() - started
            yield item

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--votes", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    config = load_config(None, [
        f"model.backend={args.backend}", f"seeds.limit={args.seeds}", f"sample.n={args.n}",
        f"sample.max_tokens={args.max_tokens}", f"verify.votes={args.votes}",
        f"verify.max_tokens={args.max_tokens}",
    ])
    backend = TimedBackend(make_backend(config.model.backend, config.model))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        run = RunFolder(folder)
        for phase, action in (("sample", run_sample), ("verify", run_verify)):
            backend.engine_s = 0.0
            started = time.perf_counter()
            action(config, run, backend, progress=False)
            wall = time.perf_counter() - started
            rows.append((phase, wall, backend.engine_s))
        run.close()
    backend.close()
    print(f"backend {args.backend}: {args.seeds} seeds, n={args.n}, v={args.votes}, "
          f"max_tokens={args.max_tokens}")
    for phase, wall, engine in rows:
        print(f"{phase:7s} wall {wall:7.1f} s  engine {engine:7.1f} s  "
              f"orchestration {wall - engine:5.2f} s = {100 * (wall - engine) / wall:.2f}%")
    wall = sum(r[1] for r in rows)
    engine = sum(r[2] for r in rows)
    print(f"total   wall {wall:7.1f} s  engine {engine:7.1f} s  "
          f"orchestration {wall - engine:5.2f} s = {100 * (wall - engine) / wall:.2f}%")


if __name__ == "__main__":
    main()
