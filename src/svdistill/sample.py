"""Phase 1: draw n candidate solutions for every seed question.

Writes `questions.jsonl` (the seeds as loaded, references kept for evaluation only) and
`candidates.jsonl` (one row per question x sample, in question order then sample order). Both
are written whole or not at all, then `config.yaml`; every model call is in the call store the
moment it returns, so an interrupted run picks up where it stopped and pays for nothing twice.
A run that fails (bad seeds, a full disk) leaves the files of the previous run as they were.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

from .backends.base import Backend, Completion, Request, SamplingParams
from .config import Config
from .generation import CallRunner, CallStats
from .progress import PhaseProgress
from .records import Candidate, Question, to_dict
from .runfolder import RunFolder
from .seeds import SeedReport, iter_seeds
from .store import atomic_writer, dumps
from .summaries import SampleStats
from .thinking import split_thinking


@dataclass
class SampleSummary:
    questions: int = 0
    candidates: int = 0
    truncated: int = 0
    errors: int = 0
    calls: CallStats = field(default_factory=CallStats)
    seeds: SeedReport = field(default_factory=SeedReport)
    wall_s: float = 0.0

    def stats(self) -> SampleStats:
        """The record written to sample_stats.json."""
        return SampleStats(
            questions=self.questions,
            candidates=self.candidates,
            truncated=self.truncated,
            errors=self.errors,
            paid_calls=self.calls.paid,
            cached_calls=self.calls.cached,
            completion_tokens_paid=self.calls.completion_tokens,
            engine_tokens_per_s=round(self.calls.tokens_per_s, 2),
            seed_rows=self.seeds.rows,
            duplicate_seeds=self.seeds.duplicates,
            skipped_seeds=dict(self.seeds.skipped),
            wall_s=round(self.wall_s, 2),
        )


def sampling_messages(config: Config, question: Question) -> list[dict[str, str]]:
    """The chat the model is sampled with; curate reuses it for the training example."""
    messages = []
    if config.model.system_prompt:
        messages.append({"role": "system", "content": config.model.system_prompt})
    user = config.model.user_template.replace("{question}", question.text)
    messages.append({"role": "user", "content": user})
    return messages


def sample_requests(config: Config, question: Question) -> list[Request]:
    s = config.sample
    messages = sampling_messages(config, question)
    return [
        Request.chat(messages, SamplingParams(s.temperature, s.top_p, s.top_k, s.max_tokens,
                                              s.seed + i))
        for i in range(s.n)
    ]


def to_candidate(question: Question, index: int, completion: Completion, key: str) -> Candidate:
    reasoning, final = split_thinking(completion.text)
    return Candidate(
        question_id=question.id,
        sample_index=index,
        text=completion.text,
        final_answer=final,
        reasoning=reasoning,
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        latency_s=round(completion.latency_s, 4),
        call_key=key,
        error=completion.error,
    )


def _chunks(items: Iterator[Question], size: int) -> Iterator[list[Question]]:
    while chunk := list(islice(items, size)):
        yield chunk


def run_sample(config: Config, run: RunFolder, backend: Backend, progress: bool = True
               ) -> SampleSummary:
    """Sample every seed question `config.sample.n` times; see the module docstring."""
    started = time.perf_counter()
    summary = SampleSummary()
    # A first pass validates the whole seed file before any model call is paid for.
    total = sum(1 for _ in iter_seeds(config.seeds, summary.seeds))
    runner = CallRunner(backend, run.calls)
    chunk_questions = max(1, (backend.batch_size * 8) // config.sample.n)
    bar = PhaseProgress("sampling", total * config.sample.n, enabled=progress)
    with run.writing("the samples"):
        with (
            bar,
            atomic_writer(run.file("questions.jsonl")) as questions_out,
            atomic_writer(run.file("candidates.jsonl")) as candidates_out,
        ):
            for chunk in _chunks(iter_seeds(config.seeds), chunk_questions):
                requests = [r for q in chunk for r in sample_requests(config, q)]
                cached_before = runner.stats.cached
                completions = runner.run(requests, progress=bar)
                bar.advance(runner.stats.cached - cached_before)
                for qi, question in enumerate(chunk):
                    questions_out.write(dumps(to_dict(question)) + "\n")
                    for i in range(config.sample.n):
                        request = requests[qi * config.sample.n + i]
                        completion = completions[qi * config.sample.n + i]
                        candidate = to_candidate(question, i, completion, runner.key(request))
                        candidates_out.write(dumps(to_dict(candidate)) + "\n")
                        summary.candidates += 1
                        summary.truncated += candidate.truncated
                        summary.errors += candidate.finish_reason == "error"
                summary.questions += len(chunk)
        # config.yaml records the prompts the candidates were sampled with (curate repeats
        # them), so it is replaced together with candidates.jsonl, never by a failed run.
        run.save_config(config)
        summary.calls = runner.stats
        summary.wall_s = time.perf_counter() - started
        summary.stats().write(run.file(SampleStats.FILE))
    return summary
