"""Tokens/s of the in-process engine's routes, llama.cpp and vLLM-CPU on the same prompts.

    python benchmarks/engine_throughput.py [--config YAML] [--backend embedded] [--questions 16]
        [--n 2] [--max-tokens 128] [--batch-size 16] [--repeats 2] [--dtype auto] [--gguf PATH]
        [--no-llamacpp] [--vllm-python .venv-vllm/bin/python [--vllm-serve]]

Every route gets the same chat prompts, temperature, top_p, top_k, max_tokens and seeds:
- raw: transformers' own batched `generate(do_sample=True)`, static batches of prompts sorted by
  length: the engine without svdistill around it. It also counts the decode row-steps a static
  batch spends on rows that already stopped.
- static: `svdistill sample` with the hf backend's decode=static (one `generate` per chunk, with
  the per-row seeded sampler; a chunk runs until its longest row stops).
- continuous: `svdistill sample` with decode=continuous (finished rows leave, waiting ones join).
  Both sample routes run the whole phase (call store, JSONL output) in a fresh run folder.
- llamacpp: llama-cpp-python on a GGUF, one sequence at a time (its high-level API). For the
  embedded model it is the Q4 file the HF folder was dequantized from, so it computes less per
  token than the others; other models need --gguf. Skipped when llama_cpp is not importable.
- vllm: vLLM's offline engine on the same HF folder, run by another Python (--vllm-python, e.g.
  the CPU build's venv), timed there on the prompts only, without its start-up.
- vllm-serve: vLLM's OpenAI server on the same folder, started by that Python (what `vllm
  serve` starts), driven by svdistill's openai backend with one request in flight per prompt:
  the route a cluster run takes. Its CPU seconds are the server's process tree and this one's.
Each repeat runs every route once with fresh seeds (nothing cached), and each figure is the
median over repeats, so load on the machine hits all alike. Process CPU seconds are reported
too: on a shared machine wall time swings by 2x while tokens per CPU-second stay comparable.
Targets: static / raw >= 0.9; continuous / static > 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


class Clock:
    """Wall and process-CPU seconds of a block of work."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def rates(self, tokens: int) -> tuple[float, float]:
        return tokens / self.wall, tokens / max(self.cpu, 1e-9)


def raw_route(backend, requests, batch_size: int) -> tuple[tuple[float, float], float]:
    """transformers generate with its own sampler; also the share of decode row-steps spent on
    rows that had already stopped."""
    import torch
    from transformers import GenerationConfig

    prompts = sorted((backend.render(r) for r in requests), key=len)
    p = requests[0].params
    config = GenerationConfig(do_sample=True, temperature=p.temperature, top_p=p.top_p,
                              top_k=p.top_k, max_new_tokens=p.max_tokens,
                              eos_token_id=backend.stop_ids,
                              pad_token_id=backend.tokenizer.pad_token_id)
    tokens = row_steps = 0
    with Clock() as clock, torch.inference_mode():
        for start in range(0, len(prompts), batch_size):
            batch = backend.tokenizer(prompts[start : start + batch_size], return_tensors="pt",
                                      padding=True, add_special_tokens=False)
            out = backend.model.generate(**batch, generation_config=config)
            new = out[:, batch["input_ids"].shape[1] :]
            row_steps += new.numel()
            for row in new.tolist():
                stop = next((i for i, t in enumerate(row) if t in backend.stop_ids), None)
                tokens += len(row) if stop is None else stop + 1
    return clock.rates(tokens), 1 - tokens / row_steps


def sample_route(config, backend, decode: str) -> tuple[float, float]:
    """`svdistill sample`, the whole phase, with the hf backend decoding `decode`-ly."""
    from svdistill.runfolder import RunFolder
    from svdistill.sample import run_sample

    backend.decode = decode
    with tempfile.TemporaryDirectory() as folder:
        run = RunFolder(Path(folder))
        with Clock() as clock:
            summary = run_sample(config, run, backend, progress=False)
        run.close()
    return clock.rates(summary.calls.completion_tokens)


def llamacpp_route(engine, requests) -> tuple[float, float]:
    with Clock() as clock:
        replies = engine.generate(requests)
    return clock.rates(sum(r.completion_tokens for r in replies))


def vllm_routes(python: str, model: Path, dtype: str, batches
                ) -> tuple[list[tuple[float, float]], float]:
    """Run `batches` (one request list per repeat) through vLLM in `python`: tok/s of each, and
    the engine's start-up in seconds (loading and compiling, before the first request)."""
    payload = {"model": str(model), "dtype": dtype,
               "batches": [[{"messages": r.message_dicts(), "params": vars(r.params)}
                            for r in batch] for batch in batches]}
    # in-process engine core, so the worker's process CPU time is the engine's
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
    done = subprocess.run([python, __file__, "--vllm-worker"], input=json.dumps(payload),
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"the vLLM worker failed (exit {done.returncode}); its log is above")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return [tuple(rates) for rates in result["rates"]], result["startup_s"]


def vllm_serve_route(python: str, model: Path, dtype: str, batches, port: int = 8765
                     ) -> tuple[list[tuple[float, float]], float]:
    """Each batch through vLLM's OpenAI server (the CPU settings of tests/test_vllm_serve.py)
    and the openai backend: tok/s of each, and the server's start-up in seconds."""
    import urllib.request

    import psutil

    from svdistill.backends.openai_http import OpenAIBackend

    cores = sorted(os.sched_getaffinity(0))
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2",
           "VLLM_CPU_OMP_THREADS_BIND": f"{cores[0]}-{cores[-1]}"}
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
               "--served-model-name", "bench", "--dtype", dtype, "--host", "127.0.0.1",
               "--port", str(port), "--no-enable-chunked-prefill", "--max-model-len", "4096"]
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    started = time.perf_counter()
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"vLLM's server exited {server.returncode}; log {log.name}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2)
                break
            except OSError:
                time.sleep(2)
        startup_s = time.perf_counter() - started
        tree = psutil.Process(server.pid)

        def cpu_seconds() -> float:
            procs = [tree, *tree.children(recursive=True)]
            return sum(sum(p.cpu_times()[:2]) for p in procs) + time.process_time()

        client = OpenAIBackend(url, "bench", concurrency=max(len(b) for b in batches))
        client.generate(batches[0][:1])  # warm-up, not timed
        rates = []
        for batch in batches:
            wall, cpu = time.perf_counter(), cpu_seconds()
            replies = client.generate(batch)
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            tokens = sum(r.completion_tokens for r in replies)
            rates.append((tokens / wall, tokens / max(cpu, 1e-9)))
        return rates, startup_s
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)


def vllm_worker() -> None:
    """The --vllm-worker side: requests as JSON on stdin; on stdout {"rates": [[tok/s,
    tok/CPU-s], ...], "startup_s": seconds to construct the engine}."""
    from svdistill.backends.base import Request, SamplingParams
    from svdistill.backends.vllm_offline import VLLMBackend

    job = json.load(sys.stdin)
    started = time.perf_counter()
    engine = VLLMBackend(job["model"], dtype=job["dtype"])
    startup_s = time.perf_counter() - started
    batches = [[Request.chat(r["messages"], SamplingParams(**r["params"])) for r in batch]
               for batch in job["batches"]]
    engine.generate(batches[0][:1])  # the first call warms the engine up: not timed
    rates = []
    for batch in batches:
        with Clock() as clock:
            replies = engine.generate(batch)
        rates.append(clock.rates(sum(r.completion_tokens for r in replies)))
    print(json.dumps({"rates": rates, "startup_s": round(startup_s, 1)}), flush=True)


def main() -> None:
    if sys.argv[1:] == ["--vllm-worker"]:
        return vllm_worker()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, help="a run config whose seeds and prompts to use")
    ap.add_argument("--backend", default="embedded", help="an hf engine: embedded or hf:PATH")
    ap.add_argument("--questions", type=int, default=16)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--gguf", type=Path, help="GGUF for the llamacpp route (embedded: its own)")
    ap.add_argument("--no-llamacpp", action="store_true", help="skip the llamacpp route")
    ap.add_argument("--vllm-python", help="a Python with vLLM installed, for the vllm route")
    ap.add_argument("--vllm-serve", action="store_true",
                    help="also the vllm-serve route (vLLM's OpenAI server, in --vllm-python)")
    args = ap.parse_args()

    import torch

    from svdistill.backends import make_backend
    from svdistill.config import load_config
    from svdistill.sample import sample_requests
    from svdistill.seeds import load_seeds

    config = load_config(args.config, [
        f"model.backend={args.backend}", f"model.batch_size={args.batch_size}",
        f"model.dtype={args.dtype}", f"seeds.limit={args.questions}", f"sample.n={args.n}",
        f"sample.max_tokens={args.max_tokens}",
    ])
    backend = make_backend(config.model.backend, config.model)
    if not hasattr(backend, "model"):
        sys.exit("this benchmark compares against transformers' generate: use an hf backend")
    questions, _ = load_seeds(config.seeds)

    def requests_of(repeat: int):
        config.sample.seed = 1000 * repeat  # fresh calls every repeat: nothing cached
        return [r for q in questions for r in sample_requests(config, q)]

    llama = _llamacpp_engine(args, config)
    _warm_up(backend, requests_of(args.repeats)[:2])  # seeds no timed repeat uses
    figures: dict[str, list[tuple[float, float]]] = {}
    waste = []
    for repeat in range(args.repeats):
        requests = requests_of(repeat)
        rates, wasted = raw_route(backend, requests, args.batch_size)
        figures.setdefault("raw", []).append(rates)
        waste.append(wasted)
        for decode in ("static", "continuous"):  # config holds this repeat's seeds
            figures.setdefault(decode, []).append(sample_route(config, backend, decode))
        if llama is not None:
            figures.setdefault("llamacpp", []).append(llamacpp_route(llama, requests))
        print(f"repeat {repeat}: " + ", ".join(f"{name} {rates[-1][0]:.1f} tok/s"
                                               for name, rates in figures.items()), flush=True)
    if args.vllm_python:
        dtype = "bfloat16" if args.dtype == "auto" else args.dtype
        try:
            figures["vllm"], startup = vllm_routes(args.vllm_python, backend.path, dtype,
                                                   [requests_of(r) for r in range(args.repeats)])
            print(f"vllm engine start-up: {startup:.0f} s (not in its tokens/s)")
        except RuntimeError as exc:  # the other routes' figures are still worth printing
            print(f"vllm route failed: {exc}")
    if args.vllm_python and args.vllm_serve:
        try:
            batches = [requests_of(r) for r in range(args.repeats)]
            figures["vllm-serve"], startup = vllm_serve_route(args.vllm_python, backend.path,
                                                              dtype, batches)
            print(f"vllm-serve start-up: {startup:.0f} s (not in its tokens/s)")
        except RuntimeError as exc:
            print(f"vllm-serve route failed: {exc}")
    print(f"requests per repeat: {len(requests)} (batch {args.batch_size}, max_tokens "
          f"{args.max_tokens}, torch threads {torch.get_num_threads()}); a static batch spent "
          f"{statistics.median(waste):.0%} of its decode row-steps on rows that had stopped")
    for column, label in ((0, "tokens/s (wall)"), (1, "tokens per CPU-second")):
        median = {name: statistics.median(r[column] for r in rates)
                  for name, rates in figures.items()}
        print(f"{label}: " + ", ".join(f"{name} {value:.1f} ({value / median['raw']:.2f}x raw)"
                                       for name, value in median.items())
              + f"; continuous / static {median['continuous'] / median['static']:.2f}")


def _warm_up(backend, requests) -> None:
    """One short untimed call per route, so the first timed one pays no kernel set-up."""
    import dataclasses

    short = [dataclasses.replace(r, params=dataclasses.replace(r.params, max_tokens=4))
             for r in requests]
    raw_route(backend, short, len(short))
    for decode in ("static", "continuous"):
        backend.decode = decode
        backend.generate(short)


def _llamacpp_engine(args, config):
    """The llamacpp route's engine, or None (with a line saying why) when it cannot run."""
    if args.no_llamacpp:
        return None
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        print("llamacpp route skipped: llama-cpp-python is not installed")
        return None
    from svdistill.backends import embedded
    from svdistill.backends.llamacpp import LlamaCppBackend

    gguf = args.gguf or (embedded.embedded_gguf() if args.backend == "embedded" else None)
    if gguf is None:
        print("llamacpp route skipped: give --gguf for a model other than the embedded one")
        return None
    print(f"llamacpp route: {gguf}")
    return LlamaCppBackend(gguf, config.model.n_ctx, config.model.n_threads)


if __name__ == "__main__":
    main()
