"""Continuous batching over transformers' KV cache: a finished row leaves, a waiting one joins.

transformers' static `generate` runs a batch until its longest row stops, so rows that finished
early keep being computed. Here every step decodes only the rows still running; as soon as one
stops (a stop token or its own max_tokens), its KV-cache rows are dropped and the next waiting
requests are prefilled and merged into the running batch (their cache left-padded to the
batch's length, or the batch's to theirs), so the batch stays full until the queue is empty.

transformers 5 has continuous batching of its own (`generate_batch`). It runs on CPU (5.24: two
minutes for 2 x 8 tokens of the 2-layer test model, most of it setting up its paged cache), but
it samples every row with one global `torch.multinomial`, so a request's sample would depend on
its neighbours and on when it was scheduled. This loop samples each request from its own
`torch.Generator` seeded from the request, one draw per token, exactly as the static route's
logits processor does, so a request gives the same tokens alone, in a static batch or here, up
to floating-point effects: CPU matrix kernels round a row differently with the number of rows
beside it, and attention with the amount of left padding. In float32 that is a 1e-6 relative
difference, which (almost) never flips a sampled token; in bfloat16 it is one unit in the last
place, and bfloat16 logits tie so often that a token flips within a few dozen steps
(tests/test_determinism.py). Scheduling depends only on the requests and the batch size, never
on timing, so the same requests give the same batches, and the same tokens, whatever the load.

Only plain full-attention caches (`DynamicLayer`) can be merged and trimmed this way;
`supports_continuous` says whether a model has them.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from transformers import DynamicCache

try:  # per-layer cache objects came with transformers 4.56; before them, decode static
    from transformers.cache_utils import DynamicLayer
except ImportError:  # pragma: no cover - depends on the install
    DynamicLayer = None

from .base import SamplingParams


def sample_rows(scores: torch.Tensor, params: Sequence[SamplingParams],
                generators: Sequence[torch.Generator]) -> torch.LongTensor:
    """One token per row: temperature, top-k and top-p sampling, row i drawing from
    generators[i] (greedy where its temperature is 0, which draws nothing)."""
    scores = scores.float()
    vocab = scores.shape[-1]
    ks = [p.top_k if 0 < p.top_k < vocab else vocab for p in params]
    values, indices = scores.topk(max(ks), dim=-1)  # sorted, largest first
    chosen = torch.empty(len(params), dtype=torch.long)
    for row, p in enumerate(params):
        if p.temperature <= 0:
            chosen[row] = indices[row, 0]
            continue
        probs = torch.softmax(values[row, : ks[row]] / p.temperature, dim=-1)
        if p.top_p < 1.0:
            # keep the smallest prefix whose mass reaches top_p (always at least one token)
            probs = probs * ((probs.cumsum(-1) - probs) < p.top_p)
        pick = torch.multinomial(probs, 1, generator=generators[row])
        chosen[row] = indices[row, pick]
    return chosen


def supports_continuous(model) -> bool:
    """Whether the model's KV cache is full attention in every layer (no sliding window, no
    linear-attention state), the only kind whose rows can be dropped and left-padded here."""
    if DynamicLayer is None:
        return False
    config = model.config.get_text_config(decoder=True)
    if getattr(config, "is_encoder_decoder", False) or getattr(config, "use_sliding_window", False):
        return False
    types = getattr(config, "layer_types", None) or ["full_attention"]
    return all(t == "full_attention" for t in types)


@dataclass
class Row:
    """One request while it decodes."""

    index: int
    prompt: list[int]
    params: SamplingParams
    generator: torch.Generator
    tokens: list[int] = field(default_factory=list)
    seconds: float = 0.0  # its share of the forward passes it took part in


@dataclass(frozen=True)
class Finished:
    index: int
    tokens: list[int]  # the completion, without the stop token
    finish_reason: str  # "stop" or "length"
    completion_tokens: int  # generated tokens, the stop token included
    seconds: float


def _left_pad(tensor: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    missing = width - tensor.shape[dim]
    if missing == 0:
        return tensor
    pad = [0, 0] * (tensor.dim() - 1 - dim % tensor.dim()) + [missing, 0]
    return F.pad(tensor, pad)


class RunningBatch:
    """The rows decoding together, their KV cache and its attention mask.

    Invariant: the cache holds every row's prompt and all its tokens but the last sampled one,
    right-aligned; the mask marks each row's real columns (1) and its left padding (0).
    """

    def __init__(self, model):
        self.model = model
        # transformers 5 renamed forward's `past_key_values` to `cache` (the old name warns)
        parameters = inspect.signature(model.forward).parameters
        self.cache_arg = "cache" if "cache" in parameters else "past_key_values"
        self.rows: list[Row] = []
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None

    def prefill(self, rows: list[Row]) -> torch.Tensor:
        """Run the prompts of `rows`, merge them into the batch and return their next-token
        logits.

        Each prompt runs on its own, unpadded, so its prompt pass is exactly the one it gets
        alone (padded, bfloat16 attention on CPU rounds differently) and no compute goes to
        padding. A prompt is one pass against hundreds of decode steps, and at a hundred tokens
        or more it already fills the matrix kernels, so batching prompts would buy little.
        """
        logits = []
        for row in rows:
            cache = DynamicCache(config=self.model.config)
            out = self.model(input_ids=torch.tensor([row.prompt]), use_cache=True,
                             logits_to_keep=1, **{self.cache_arg: cache})
            self._merge([row], cache, torch.ones(1, len(row.prompt), dtype=torch.long))
            logits.append(out.logits[:, -1])
        return torch.cat(logits)

    def step(self) -> torch.Tensor:
        """Feed every row its last sampled token; the next-token logits, one row per row."""
        ids = torch.tensor([[r.tokens[-1]] for r in self.rows])
        self.mask = F.pad(self.mask, (0, 1), value=1)
        positions = self.mask.sum(-1, keepdim=True) - 1
        out = self.model(input_ids=ids, attention_mask=self.mask, position_ids=positions,
                         use_cache=True, **{self.cache_arg: self.cache})
        return out.logits[:, -1]

    def keep(self, kept: list[int]) -> None:
        """Keep only the rows at positions `kept`, and cut the padding columns they all share."""
        if not kept:
            self.rows, self.cache, self.mask = [], None, None
            return
        self.rows = [self.rows[i] for i in kept]
        index = torch.tensor(kept)
        self.mask = self.mask[index]
        # columns that are padding in every remaining row: the rows that needed them are gone
        shared = int((self.mask.cumsum(-1) == 0).sum(-1).min())
        self.mask = self.mask[:, shared:]
        for layer in self._layers(self.cache):
            layer.keys = layer.keys[index, :, shared:]
            layer.values = layer.values[index, :, shared:]

    def _merge(self, rows: list[Row], cache: DynamicCache, mask: torch.Tensor) -> None:
        if self.cache is None:
            self.rows, self.cache, self.mask = list(rows), cache, mask
            self._layers(cache)
            return
        width = max(self.mask.shape[-1], mask.shape[-1])
        for old, new in zip(self._layers(self.cache), self._layers(cache), strict=True):
            old.keys = torch.cat([_left_pad(old.keys, width, -2), _left_pad(new.keys, width, -2)])
            old.values = torch.cat([_left_pad(old.values, width, -2),
                                    _left_pad(new.values, width, -2)])
        self.mask = torch.cat([_left_pad(self.mask, width, -1), _left_pad(mask, width, -1)])
        self.rows += rows

    @staticmethod
    def _layers(cache: DynamicCache) -> list[DynamicLayer]:
        if any(type(layer) is not DynamicLayer for layer in cache.layers):
            raise ValueError("continuous batching needs a full-attention KV cache in every layer; "
                             "this model's has another kind: use decode='static'")
        return cache.layers


@torch.inference_mode()
def decode(model, prompts: Sequence[list[int]], params: Sequence[SamplingParams],
           stop_ids: Sequence[int], batch_size: int) -> Iterator[Finished]:
    """Generate for every prompt, at most `batch_size` rows at a time, yielding each request as
    it finishes. Waiting requests join in the order given, as soon as rows free up."""
    waiting = deque(Row(i, list(p), s, torch.Generator().manual_seed(s.seed))
                    for i, (p, s) in enumerate(zip(prompts, params, strict=True)))
    batch = RunningBatch(model)
    stops = set(stop_ids)
    while waiting or batch.rows:
        started = time.perf_counter()
        if waiting and len(batch.rows) < batch_size:
            stepped = [waiting.popleft()
                       for _ in range(min(len(waiting), batch_size - len(batch.rows)))]
            logits = batch.prefill(stepped)
        else:
            stepped = batch.rows
            logits = batch.step()
        tokens = sample_rows(logits, [r.params for r in stepped], [r.generator for r in stepped])
        share = (time.perf_counter() - started) / len(stepped)
        for row, token in zip(stepped, tokens.tolist(), strict=True):
            row.tokens.append(token)
            row.seconds += share
        kept = []
        for position, row in enumerate(batch.rows):
            if row.tokens[-1] in stops:
                yield Finished(row.index, row.tokens[:-1], "stop", len(row.tokens), row.seconds)
            elif len(row.tokens) >= row.params.max_tokens:
                yield Finished(row.index, row.tokens, "length", len(row.tokens), row.seconds)
            else:
                kept.append(position)
        if len(kept) < len(batch.rows):
            batch.keep(kept)
