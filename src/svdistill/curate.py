"""Phase 3: turn the verdicts into a supervised fine-tuning set.

Reads `questions.jsonl`, `candidates.jsonl`, `verdicts.jsonl` and `config.yaml` from the run folder
and writes `sft/`:

- `train.jsonl` and `dataset/` (a `datasets` save_to_disk folder): one row per training example,
  `messages` = the system and user prompt the model was sampled with plus the full sampled response
  (reasoning included) as the assistant turn;
- `dropped.jsonl`: everything curate removed, each row with its reason;
- `stats.json`: counts, drops by reason and token lengths. Written last, so its presence means the
  set is complete.

Selection policies (`curate.policy`):

- `first-valid` (the paper's): per question, in sampling order, the first accepted candidate;
  questions with none are dropped.
- `all-valid`: every accepted candidate (the paper found this over-weights easy questions).
- `no-filter`: every candidate, verified or not, as in the paper's "train on all samples" ablation.
- `no-filter-first`: sample 0 of every question, unverified: the same one-per-question shape as
  first-valid, so it isolates the effect of verification from the effect of data volume.
- `single-judge`: first-valid over verdicts from a `verify.stages: [rules, single]` run (the
  single-judge ablation); curate checks the verdicts really came from such a cascade.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .config import Config, load_config
from .ngrams import NgramIndex
from .progress import PhaseProgress
from .records import Candidate, Question, Verdict, from_dict
from .registry import CURATE_POLICIES
from .runfolder import RunFolder
from .sample import sampling_messages
from .store import RunError, atomic_folder, read_jsonl, write_jsonl
from .summaries import CurateSummary

T = TypeVar("T")
VERIFIED_POLICIES = ("first-valid", "all-valid", "single-judge")
SINGLE_JUDGE_STAGES = {"rules", "single"}


# ---------------------------------------------------------------------------- reading the run


def _need(run: RunFolder, name: str, phase: str) -> Path:
    path = run.file(name)
    if not path.exists():
        raise RunError(f"{path} is missing: run `svdistill {phase}` into {run.path} first")
    return path


def _records(path: Path, cls: type[T]) -> Iterator[T]:
    """The rows of a run file as records; a row that is not one names the file and row."""
    for number, row in enumerate(read_jsonl(path), start=1):
        try:
            yield from_dict(cls, row)
        except (TypeError, AttributeError) as exc:
            raise RunError(f"{path}: row {number} is not a {cls.__name__} record ({exc})") from None


def load_candidates(run: RunFolder) -> tuple[list[Question], dict[str, list[Candidate]]]:
    """Questions in file order, and each question's candidates sorted by sample index."""
    questions = list(_records(_need(run, "questions.jsonl", "sample"), Question))
    by_question: dict[str, list[Candidate]] = {q.id: [] for q in questions}
    for candidate in _records(_need(run, "candidates.jsonl", "sample"), Candidate):
        if candidate.question_id not in by_question:
            raise RunError(
                f"candidates.jsonl: question {candidate.question_id!r} is not in "
                "questions.jsonl; the run folder mixes two runs"
            )
        by_question[candidate.question_id].append(candidate)
    for candidates in by_question.values():
        candidates.sort(key=lambda c: c.sample_index)  # sampling order decides first-valid
    return questions, by_question


def load_verdicts(run: RunFolder) -> dict[tuple[str, int], Verdict]:
    verdicts = {}
    for verdict in _records(_need(run, "verdicts.jsonl", "verify"), Verdict):
        verdicts[(verdict.question_id, verdict.sample_index)] = verdict
    return verdicts


def sampled_config(run: RunFolder, config: Config, summary: CurateSummary) -> Config:
    """The config the candidates were sampled with (the run's config.yaml), whose prompts the
    training examples must repeat; falls back to `config` for a folder without one."""
    path = run.file("config.yaml")
    if not path.exists():
        summary.warnings.append("no config.yaml in the run: prompts taken from the given config")
        return config
    saved = load_config(path)
    if (saved.model.system_prompt, saved.model.user_template) != (
        config.model.system_prompt,
        config.model.user_template,
    ):
        summary.warnings.append(
            "the given config's prompts differ from the run's config.yaml; "
            "training examples use the run's (the ones sampled with)"
        )
    return saved


# ---------------------------------------------------------------------------- selection


def check_single_judge(verdicts: dict[tuple[str, int], Verdict], saved: Config) -> None:
    """The single-judge ablation is only meaningful on verdicts of a [rules, single] cascade."""
    seen = {s.stage for v in verdicts.values() for s in v.stages}
    other = seen - SINGLE_JUDGE_STAGES
    if other or ("single" not in seen and "single" not in saved.verify.stages):
        raise RunError(
            "policy single-judge needs verdicts from verify.stages=[rules, single]; these come "
            f"from stages {sorted(seen) or saved.verify.stages}. Verify a copy of the run with "
            "verify.stages=[rules,single], or use policy first-valid."
        )


# Policies, registered by name in svdistill.registry.CURATE_POLICIES: each picks the candidates
# of one question (in sampling order) to train on, given whether the cascade accepted each one.


def first_accepted(candidates: list[Candidate], accepted: Callable[[Candidate], bool]
                   ) -> list[Candidate]:
    return next(([c] for c in candidates if accepted(c)), [])


def every_accepted(candidates: list[Candidate], accepted: Callable[[Candidate], bool]
                   ) -> list[Candidate]:
    return [c for c in candidates if accepted(c)]


def every_candidate(candidates: list[Candidate], accepted: Callable[[Candidate], bool]
                    ) -> list[Candidate]:
    return list(candidates)


def first_candidate(candidates: list[Candidate], accepted: Callable[[Candidate], bool]
                    ) -> list[Candidate]:
    return [c for c in candidates if c.sample_index == 0][:1]


def select(
    policy: str,
    questions: list[Question],
    by_question: dict[str, list[Candidate]],
    verdicts: dict[tuple[str, int], Verdict],
    dropped: list[dict[str, Any]],
) -> list[tuple[Question, Candidate]]:
    """The (question, candidate) pairs a policy trains on, in question then sampling order.
    A question that yields nothing is written to `dropped` with the reason."""

    def accepted(c: Candidate) -> bool:
        verdict = verdicts.get((c.question_id, c.sample_index))
        return verdict is not None and verdict.accepted

    pick = CURATE_POLICIES.load(policy)
    chosen: list[tuple[Question, Candidate]] = []
    for question in questions:
        candidates = by_question[question.id]
        picked = pick(candidates, accepted)
        if not picked:
            reason = "no_accepted_candidate" if policy in VERIFIED_POLICIES else "no_candidate"
            dropped.append(
                {
                    "question_id": question.id,
                    "sample_index": None,
                    "reason": reason,
                    "detail": f"{len(candidates)} candidates",
                }
            )
        chosen.extend((question, c) for c in picked)
    return chosen


def at_most(kept: list[dict[str, Any]], limit: int | None, dropped: list[dict[str, Any]]
            ) -> list[dict[str, Any]]:
    """`kept` cut to `limit` examples, chosen at random with a fixed seed and kept in order;
    the others go to `dropped`. A size-matched ablation trains on as many examples as the cell
    it is compared with, so the comparison is not one of data size."""
    if limit is None or len(kept) <= limit:
        return kept
    chosen = set(random.Random(0).sample(range(len(kept)), limit))
    for i, example in enumerate(kept):
        if i not in chosen:
            dropped.append({"question_id": example["question_id"],
                            "sample_index": example["sample_index"],
                            "reason": "over_max_examples", "detail": f"limit {limit}"})
    return [e for i, e in enumerate(kept) if i in chosen]


def training_example(saved: Config, question: Question, candidate: Candidate) -> dict[str, Any]:
    """One SFT row: the sampling chat plus the full response (reasoning kept) as the answer."""
    messages = sampling_messages(saved, question)
    messages.append({"role": "assistant", "content": candidate.text})
    return {
        "id": f"{question.id}#{candidate.sample_index}",
        "question_id": question.id,
        "sample_index": candidate.sample_index,
        "messages": messages,
        "prompt_tokens": candidate.prompt_tokens,
        "completion_tokens": candidate.completion_tokens,
        "truncated": candidate.truncated,
    }


# Characters no training response should hold: C0 and C1 controls (tab, newline and carriage
# return excepted), DEL, and the marks of text that was not valid UTF-8 (U+FFFD from a lossy
# decode, lone surrogates from a `\\ud800` escape in a server's JSON).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_INVALID = re.compile(r"[\ufffd\ud800-\udfff]")


def unprintable(text: str) -> tuple[str, str] | None:
    """(drop reason, detail) for a response holding control characters or broken Unicode."""
    for reason, pattern in (("control_characters", _CONTROL), ("invalid_unicode", _INVALID)):
        if m := pattern.search(text):
            return reason, f"U+{ord(m.group()):04X} at character {m.start()}"
    return None


# ---------------------------------------------------------------------------- decontamination


class Decontaminator:
    """Flags a question that overlaps a benchmark question (svdistill.ngrams: a shared word
    n-gram, n = 13 by default, or a short question whole inside the other). On templated data
    (the built-in arithmetic seeds) long template spans are shared by different questions: see
    docs/training.md before enabling it there."""

    def __init__(self, files: list[str], n: int):
        from .evaluate.benchmarks import file_rows  # the benchmark reader, only when asked for

        references = []
        for name in files:
            path = Path(name)
            if not path.is_file():
                raise RunError(f"curate.decontaminate: no benchmark file at {path}")
            # Read strictly, like any benchmark: a malformed last line is an error, never a
            # silently skipped question (read_jsonl forgives a torn tail in the run's own files).
            for location, row in file_rows(path):
                text = row.get("question") if isinstance(row, dict) else None
                if not isinstance(text, str):
                    raise RunError(f"{location}: no 'question' text field")
                references.append((f"{path.name}:{location.rsplit(' ', 1)[1]}", text))
        self.index = NgramIndex(references, n)

    def match(self, text: str) -> str | None:
        """Where `text` overlaps a benchmark ("file:line: 'the shared words'"), or None."""
        found = self.index.match(text)
        return f"{found.reference}: {found.shared!r}" if found else None


# ---------------------------------------------------------------------------- writing


def example_key(example: dict[str, Any]) -> str:
    """Exact-duplicate key: the chat with surrounding whitespace ignored."""
    chat = [(m["role"], m["content"].strip()) for m in example["messages"]]
    return hashlib.sha256(json.dumps(chat, ensure_ascii=False).encode("utf-8")).hexdigest()


def token_stats(examples: list[dict[str, Any]], max_length: int) -> dict[str, float]:
    """Lengths as the engine counted them when sampling (rendered prompt + response tokens)."""
    lengths = sorted(e["prompt_tokens"] + e["completion_tokens"] for e in examples)
    if not lengths:
        return {}
    return {
        "examples": len(lengths),
        "min": lengths[0],
        "mean": round(statistics.fmean(lengths), 1),
        "p50": lengths[len(lengths) // 2],
        "p95": lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))],
        "max": lengths[-1],
        "response_mean": round(statistics.fmean(e["completion_tokens"] for e in examples), 1),
        "over_max_length": sum(n > max_length for n in lengths),
        "total": sum(lengths),
    }


def save_dataset(rows: list[dict[str, Any]], target: Path) -> bool:
    """save_to_disk into a temporary folder renamed into place. False if `datasets` is absent."""
    try:
        import datasets
    except ImportError:
        return False
    with atomic_folder(target) as tmp:
        # An empty list gives no columns; naming them keeps the folder loadable.
        dataset = (
            datasets.Dataset.from_list(rows)
            if rows
            else datasets.Dataset.from_dict({"id": [], "messages": []})
        )
        quiet = datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # a bar per save is noise next to curate's own table
        try:
            dataset.save_to_disk(str(tmp))
        finally:
            if not quiet:
                datasets.enable_progress_bars()
    return True


def run_curate(config: Config, run: RunFolder, progress: bool = True) -> CurateSummary:
    """Select, deduplicate and decontaminate; write `RUN/sft/` (see the module docstring)."""
    started = time.perf_counter()
    policy = config.curate.policy
    summary = CurateSummary(policy=policy)
    saved = sampled_config(run, config, summary)
    questions, by_question = load_candidates(run)
    summary.questions = len(questions)
    summary.candidates = sum(len(c) for c in by_question.values())

    verdicts: dict[tuple[str, int], Verdict] = {}
    if policy in VERIFIED_POLICIES or run.file("verdicts.jsonl").exists():
        verdicts = load_verdicts(run)
    summary.verdicts = len(verdicts)
    summary.accepted = sum(v.accepted for v in verdicts.values())
    summary.verify_stages = sorted({s.stage for v in verdicts.values() for s in v.stages})
    summary.questions_with_accepted = len(
        {v.question_id for v in verdicts.values() if v.accepted} & set(by_question)
    )
    if policy in VERIFIED_POLICIES:
        unverified = summary.candidates - sum(
            (c.question_id, c.sample_index) in verdicts for cs in by_question.values() for c in cs
        )
        if unverified:
            summary.warnings.append(
                f"{unverified} candidates have no verdict (verify incomplete?)"
                " and count as not accepted"
            )
    if policy == "single-judge":
        check_single_judge(verdicts, saved)

    dropped: list[dict[str, Any]] = []
    chosen = select(policy, questions, by_question, verdicts, dropped)
    summary.selected = len(chosen)
    decon = (
        Decontaminator(config.curate.decontaminate, config.curate.ngram)
        if config.curate.decontaminate
        else None
    )

    kept: list[dict[str, Any]] = []
    first_of: dict[str, str] = {}  # duplicate key -> id of the example kept
    overlap: dict[str, str | None] = {}  # question id -> where it overlaps a benchmark
    with PhaseProgress("curating", len(chosen), enabled=progress) as bar:
        for question, candidate in chosen:
            bar.advance()
            ref = {"question_id": question.id, "sample_index": candidate.sample_index}
            if candidate.finish_reason == "error" or not candidate.text.strip():
                dropped.append(
                    {
                        **ref,
                        "reason": "empty_response",
                        "detail": candidate.error or candidate.finish_reason,
                    }
                )
                continue
            if problem := unprintable(candidate.text):
                dropped.append({**ref, "reason": problem[0], "detail": problem[1]})
                continue
            if question.id not in overlap:  # once per question, however many candidates
                overlap[question.id] = decon.match(question.text) if decon else None
            if where := overlap[question.id]:
                dropped.append({**ref, "reason": "contaminated", "detail": where})
                continue
            example = training_example(saved, question, candidate)
            key = example_key(example)
            if key in first_of:
                dropped.append({**ref, "reason": "duplicate", "detail": first_of[key]})
                continue
            first_of[key] = example["id"]
            kept.append(example)

    kept = at_most(kept, config.curate.max_examples, dropped)
    summary.kept = len(kept)
    summary.truncated_kept = sum(e["truncated"] for e in kept)
    summary.dropped = Counter(d["reason"] for d in dropped)
    summary.tokens = token_stats(kept, config.train.max_length)
    if summary.truncated_kept:
        summary.warnings.append(
            f"{summary.truncated_kept} kept responses were cut off at sample.max_tokens"
        )
    if not kept:
        summary.warnings.append("no training examples: nothing to train on")

    sft = run.file("sft")
    # present again only once the set is complete
    run.file(CurateSummary.FILE).unlink(missing_ok=True)
    if not save_dataset(kept, sft / "dataset"):
        summary.warnings.append("`datasets` is not installed: wrote sft/train.jsonl only")
    write_jsonl(sft / "train.jsonl", kept)
    write_jsonl(sft / "dropped.jsonl", dropped)
    summary.wall_s = time.perf_counter() - started
    summary.curate = config.curate.model_dump()
    summary.write(run.file(CurateSummary.FILE))
    return summary
