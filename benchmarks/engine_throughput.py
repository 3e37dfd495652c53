"""Raw engine tokens/s vs `svdistill sample` tokens/s on the same model, prompts and settings.

    python benchmarks/engine_throughput.py [--backend embedded] [--questions 16] [--n 2]
        [--max-tokens 128] [--batch-size 16] [--repeats 2]

The raw engine is transformers' own batched `generate(do_sample=True)` on the same chat prompts,
batch size, temperature, top_p and top_k. `svdistill sample` runs the whole phase (seeds, call
store, per-row seeded sampling, JSONL output) in a fresh run folder each repeat. The two are
alternated and each figure is the median over repeats, so load on the machine hits both alike.
Both are also timed in process CPU seconds: on a machine shared with other heavy processes, wall
time swings by 2x between neighbouring repeats while tokens per CPU-second stay comparable.
Target: ratio >= 0.9.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import GenerationConfig

from svdistill.backends import make_backend
from svdistill.config import load_config
from svdistill.runfolder import RunFolder
from svdistill.sample import run_sample, sample_requests
from svdistill.seeds import load_seeds


class Clock:
    """Wall and process-CPU seconds of a block of work."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def raw_tokens_per_s(backend, requests, batch_size: int) -> tuple[float, float]:
    """transformers generate with its own sampler: the engine without svdistill around it."""
    prompts = sorted((backend.render(r) for r in requests), key=len)
    p = requests[0].params
    config = GenerationConfig(do_sample=True, temperature=p.temperature, top_p=p.top_p,
                              top_k=p.top_k, max_new_tokens=p.max_tokens,
                              eos_token_id=backend.stop_ids,
                              pad_token_id=backend.tokenizer.pad_token_id)
    tokens = 0
    with Clock() as clock, torch.inference_mode():
        for start in range(0, len(prompts), batch_size):
            batch = backend.tokenizer(prompts[start : start + batch_size], return_tensors="pt",
                                      padding=True, add_special_tokens=False)
            out = backend.model.generate(**batch, generation_config=config)
            for row in out[:, batch["input_ids"].shape[1] :].tolist():
                stop = next((i for i, t in enumerate(row) if t in backend.stop_ids), None)
                tokens += len(row) if stop is None else stop + 1
    return tokens / clock.wall, tokens / clock.cpu


def svdistill_tokens_per_s(config, backend) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        run = RunFolder(Path(folder))
        with Clock() as clock:
            summary = run_sample(config, run, backend, progress=False)
        run.close()
    tokens = summary.calls.completion_tokens
    return tokens / clock.wall, tokens / clock.cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="embedded")
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    config = load_config(None, [
        f"model.backend={args.backend}", f"model.batch_size={args.batch_size}",
        f"seeds.limit={args.questions}", f"sample.n={args.n}",
        f"sample.max_tokens={args.max_tokens}",
    ])
    backend = make_backend(config.model.backend, config.model)
    if not hasattr(backend, "model"):
        sys.exit("this benchmark compares against transformers' generate: use an hf backend")
    questions, _ = load_seeds(config.seeds)
    requests = [r for q in questions for r in sample_requests(config, q)]
    raw, ours = [], []
    for repeat in range(args.repeats):
        config.sample.seed = 1000 * repeat  # fresh calls every repeat: nothing cached
        raw.append(raw_tokens_per_s(backend, requests, args.batch_size))
        ours.append(svdistill_tokens_per_s(config, backend))
        print(f"repeat {repeat}: raw {raw[-1][0]:.1f} tok/s ({raw[-1][1]:.1f} per CPU-s), "
              f"svdistill sample {ours[-1][0]:.1f} tok/s ({ours[-1][1]:.1f} per CPU-s)",
              flush=True)
    print(f"requests per repeat: {len(requests)} (batch {args.batch_size}, "
          f"max_tokens {args.max_tokens}, torch threads {torch.get_num_threads()})")
    for column, label in ((0, "tokens/s (wall)"), (1, "tokens per CPU-second")):
        raw_m = statistics.median(r[column] for r in raw)
        ours_m = statistics.median(o[column] for o in ours)
        print(f"{label}: raw engine {raw_m:.1f}, svdistill sample {ours_m:.1f}, "
              f"ratio {ours_m / raw_m:.2f} (target >= 0.9)")


if __name__ == "__main__":
    main()
