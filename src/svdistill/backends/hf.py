"""transformers in-process: HF folders or GGUF files, continuously batched on the KV cache.

Each request samples with its own `torch.Generator` seeded from the request's seed, so sample i
of a question is the same whichever batch it lands in (up to floating-point effects of padding).
Two decoding routes give the same tokens (tests/test_hf_decode.py):

- `continuous` (the default, hf_decode.py): a finished row leaves the batch at once and a
  waiting request takes its place, so no step is spent on rows that already stopped.
- `static`: transformers' `generate` per chunk of requests sorted by prompt length; a chunk runs
  until its longest row stops. A logits processor samples every row itself and leaves a single
  finite logit, with `generate` running greedy around it. Kept for models whose cache cannot be
  merged row by row (sliding-window or linear attention) and as the benchmark's baseline.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
)

from .base import Backend, Completion, Request, SamplingParams, template_switches
from .dtypes import torch_dtype as _dtype
from .hf_decode import decode as decode_continuously
from .hf_decode import sample_rows, supports_continuous
from .weights import weights_fingerprint


class PerRowSampler(LogitsProcessor):
    """Temperature, top-k and top-p sampling with one seeded generator per batch row."""

    def __init__(self, params: Sequence[SamplingParams]):
        self.params = list(params)
        self.generators = [torch.Generator().manual_seed(p.seed) for p in params]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        chosen = sample_rows(scores, self.params, self.generators)
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(chosen)), chosen] = 0.0
        return out


def load_model(path: str | Path, dtype: str = "auto"):
    """Load a causal LM and its tokenizer from an HF folder or a GGUF file (dequantized).

    A model loaded from GGUF keeps a quantizer that blocks saving and training; it is removed
    here so the result is a plain model.
    """
    path = Path(path)
    kwargs: dict = {"dtype": _dtype(dtype)}
    if path.suffix == ".gguf":
        source, kwargs["gguf_file"] = str(path.parent), path.name
    else:
        source = str(path)
    tokenizer = AutoTokenizer.from_pretrained(source, **{k: v for k, v in kwargs.items()
                                                         if k == "gguf_file"})
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.eval()
    return model, tokenizer


class HFBackend(Backend):
    """`decode`: "continuous" (rows leave and join the batch as they finish) or "static"
    (transformers' `generate` per chunk); a model whose cache cannot be merged row by row
    always runs static."""

    def __init__(self, path: str | Path, batch_size: int = 16, dtype: str = "auto",
                 n_threads: int | None = None, enable_thinking: bool | None = None,
                 decode: str = "continuous"):
        if decode not in ("continuous", "static"):
            raise ValueError(f"decode must be 'continuous' or 'static', not {decode!r}")
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"model not found: {self.path}")
        if n_threads:
            torch.set_num_threads(n_threads)
        self.batch_size = batch_size
        self.dtype = dtype
        self.model, self.tokenizer = load_model(self.path, dtype)
        self.decode = decode if supports_continuous(self.model) else "static"
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.stop_ids = self._stop_ids()
        self.template_kwargs, suffix = template_switches(enable_thinking)
        self._identity = f"hf:{self.path.name}:{dtype}:{weights_fingerprint(self.path)}{suffix}"

    @property
    def identity(self) -> str:
        return self._identity

    def close(self) -> None:
        """Drop the weights now, so their memory (a GPU's too) is free for training."""
        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _stop_ids(self) -> list[int]:
        ids = {self.tokenizer.eos_token_id}
        for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
            tid = self.tokenizer.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                ids.add(tid)
        configured = self.model.generation_config.eos_token_id
        ids.update(configured if isinstance(configured, list) else [configured])
        return sorted(i for i in ids if i is not None)

    def render(self, request: Request) -> str:
        return self.tokenizer.apply_chat_template(
            request.message_dicts(), tokenize=False, add_generation_prompt=True,
            **self.template_kwargs,
        )

    def generate(self, requests: Sequence[Request]) -> list[Completion]:
        if self.decode == "static":
            return self._generate_static(requests)
        done = dict(self._stream_continuous(requests))
        return [done[i] for i in range(len(requests))]

    def stream(self, requests):
        if self.decode == "continuous":
            yield from self._stream_continuous(requests)
            return
        # Similar prompt lengths share a batch, so less compute goes to padding.
        order = sorted(range(len(requests)), key=lambda i: len(self.render(requests[i])))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            yield from zip(chunk, self._generate_static([requests[i] for i in chunk]),
                           strict=True)

    def _completion(self, tokens: list[int], finish: str, prompt_tokens: int, counted: int,
                    latency_s: float) -> Completion:
        return Completion(text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                          finish_reason=finish, prompt_tokens=prompt_tokens,
                          completion_tokens=counted, latency_s=latency_s)

    def _stream_continuous(self, requests: Sequence[Request]):
        prompts = [self.tokenizer(self.render(r), add_special_tokens=False)["input_ids"]
                   for r in requests]
        # Similar prompt lengths join the batch together, so less compute goes to padding.
        order = sorted(range(len(requests)), key=lambda i: len(prompts[i]))
        for done in decode_continuously(
            self.model, [prompts[i] for i in order], [requests[i].params for i in order],
            self.stop_ids, self.batch_size,
        ):
            index = order[done.index]
            yield index, self._completion(done.tokens, done.finish_reason, len(prompts[index]),
                                          done.completion_tokens, done.seconds)

    @torch.inference_mode()
    def _generate_static(self, requests: Sequence[Request]) -> list[Completion]:
        """One `generate` call over all of `requests`: it runs until its longest row stops."""
        if not requests:
            return []
        started = time.perf_counter()
        prompts = [self.render(r) for r in requests]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        config = GenerationConfig(
            do_sample=False,
            max_new_tokens=max(r.params.max_tokens for r in requests),
            eos_token_id=self.stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            repetition_penalty=1.0,
        )
        output = self.model.generate(
            **batch,
            generation_config=config,
            logits_processor=LogitsProcessorList([PerRowSampler([r.params for r in requests])]),
        )
        latency = (time.perf_counter() - started) / len(requests)
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        results = []
        for row, request in enumerate(requests):
            tokens = new_tokens[row].tolist()
            limit = request.params.max_tokens
            stop_at = next((i for i, t in enumerate(tokens) if t in self.stop_ids), None)
            if stop_at is not None and stop_at < limit:
                kept, finish, counted = tokens[:stop_at], "stop", stop_at + 1
            else:
                kept, finish = tokens[:limit], "length"
                counted = len(kept)
            results.append(self._completion(kept, finish, int(batch["attention_mask"][row].sum()),
                                            counted, latency))
        return results
