"""Phase 5: evaluate a model on held-out benchmarks, alone (pass@k) or with UQ-TTC.

Order of work, so nothing is paid for before every check has passed: load every benchmark,
refuse any that overlaps the run's seed questions, validate every gold answer, and only then
load the model. Every model call goes through the run's call store, with seed `evaluate.seed + i`
for sample i, so evaluating the same model again gives the same numbers and pays nothing.

Results go to RUN/eval/<model>/<benchmark>/ (UQ-TTC: RUN/eval/<model>+uq-ttc/<benchmark>/):
`samples.jsonl` (one row per question x sample), `gold_rejected.jsonl` (rows whose gold did not
grade as correct, with the reason) and `summary.json`.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..backends.base import Backend, Request, SamplingParams
from ..backends.spec import BackendSpec
from ..config import Config
from ..generation import CallRunner
from ..progress import PhaseProgress
from ..records import Question
from ..runfolder import RunFolder
from ..store import RunError, write_jsonl
from ..summaries import EvalSummary
from ..versions import package_versions
from .benchmarks import BenchItem, Benchmark, load_benchmark, safe_name, shuffle_seed, shuffled
from .grading import grade_many, messages_for, validate_golds
from .overlap import SeedIndex, find_overlaps
from .passk import bootstrap_ci, question_scores, sample_counts
from .uq_ttc import first_accepted

METHODS = ("single", "uq-ttc")


def resolve_model(config: Config, run: RunFolder, model: str) -> tuple[str, str]:
    """(label for RUN/eval/<label>, backend string) for `--model base|trained|PATH|BACKEND`."""
    if model == "base":
        return "base", config.model.backend
    if model == "trained":
        folder = run.file("model")
        if not folder.is_dir():
            raise RunError(f"{folder} not found: run `svdistill train` first")
        return "trained", BackendSpec.parse(config.model.backend).with_weights(folder)
    path = Path(model)
    if path.exists():
        spec = f"llamacpp:{path}" if path.suffix == ".gguf" else f"hf:{path}"
        return _path_label(run, path), spec
    return safe_name(model), model


def _path_label(run: RunFolder, path: Path) -> str:
    """A label for a model folder or file that no other model's results already hold: inside
    the run, its path there without a final `model` (RUN/round-1/no-filter/model ->
    round-1-no-filter); outside, its parent and name. If RUN/eval/<label> holds another model's
    results, the label gains a hash of this model's absolute path, so the same model always
    finds its own results and never overwrites another's."""
    where = path.resolve()
    try:
        parts = list(where.relative_to(run.path.resolve()).parts)
    except ValueError:
        parts = [where.parent.name, where.name]
    if parts and parts[-1] == "model":
        parts.pop()
    label = safe_name("-".join(parts)) if parts else "trained"

    def holds_other(folder: str) -> bool:
        for summary in run.file("eval").glob(f"{folder}/*/{EvalSummary.FILE}"):
            try:
                backend = EvalSummary.read(summary).backend
            except (OSError, ValueError):  # SummaryError is a ValueError
                continue
            if Path(BackendSpec.parse(backend).rest).resolve() != where:
                return True
        return False

    if any(holds_other(label + suffix) for suffix in ("", *(f"+{m}" for m in METHODS))):
        label += "-" + hashlib.sha256(str(where).encode()).hexdigest()[:8]
    return label


def sampling_params(config: Config, index: int) -> SamplingParams:
    e = config.evaluate
    return SamplingParams(e.temperature, e.top_p, e.top_k, e.max_tokens, e.seed + index)


def _check_overlaps(config: Config, run: RunFolder, benches: list[Benchmark]) -> dict[str, int]:
    """Overlap counts per benchmark; raises before any model call when one is not allowed."""
    index = SeedIndex.from_run(run.file("questions.jsonl"), config.evaluate.ngram)
    counts: dict[str, int] = {}
    refused = []
    for bench in benches:
        rows = find_overlaps(bench.items, index) if index else []
        counts[bench.name] = len(rows)
        if rows:
            path = run.file(f"eval/overlaps/{bench.name}.jsonl")
            write_jsonl(path, rows)
            refused.append(f"  {bench.spec}: {len(rows)} of {len(bench.items)} questions overlap "
                           f"(e.g. {rows[0]['id']}: {rows[0]['reason']}); listed in {path}")
    if refused and not config.evaluate.allow_overlap:
        raise RunError("benchmarks overlap the run's seed questions (RUN/questions.jsonl); "
                       "evaluate.allow_overlap=true (--allow-overlap) reports on them anyway:\n"
                       + "\n".join(refused))
    return counts


def _score(per_question: list[list[bool | None]], config: Config) -> dict[str, Any]:
    """pass@k over every sample: an ungraded one counts as not passed (passk.py says why); the
    ungraded are counted apart by the caller, and `graded_questions` is how many questions had
    at least one graded sample."""
    e = config.evaluate
    graded = sum(any(g is not None for g in gs) for gs in per_question)
    counts = [(n, c) for n, c in sample_counts(per_question) if n > 0]
    out: dict[str, Any] = {"graded_questions": graded, "scored_questions": len(counts),
                           "pass_at_k": {}}
    if not counts:
        out.update(pass_at_1=None, ci=None)
        return out
    n_min = min(n for n, _ in counts)
    ks = sorted({k for k in (1, 2, 4, 8, 16, 32, 64, n_min) if k <= n_min})
    for k in ks:
        values = question_scores(counts, k)
        lo, hi = bootstrap_ci(values, e.bootstrap_resamples, e.confidence, seed=e.seed)
        out["pass_at_k"][str(k)] = {"mean": sum(values) / len(values), "ci": [lo, hi]}
    out["pass_at_1"] = out["pass_at_k"]["1"]["mean"]
    out["ci"] = out["pass_at_k"]["1"]["ci"]
    return out


def _summary_base(config: Config, bench: Benchmark, label: str, spec: str, method: str,
                  engine: str, gold_bad: dict[str, str], overlaps: int) -> dict[str, Any]:
    e = config.evaluate
    return {
        "model": label, "backend": spec, "engine": engine, "method": method,
        "benchmark": bench.name, "spec": bench.spec, "source": bench.source,
        "questions": len(bench.items), "gold_rejected": len(gold_bad),
        "overlapping_questions": overlaps,
        "sampling": {"temperature": e.temperature, "top_p": e.top_p, "top_k": e.top_k,
                     "max_tokens": e.max_tokens, "seed": e.seed},
        "bootstrap": {"resamples": e.bootstrap_resamples, "confidence": e.confidence,
                      "unit": "question"},
        "versions": package_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def asked(config: Config, item: BenchItem, index: int) -> BenchItem:
    """The item as sample `index` asks it: with `evaluate.shuffle_options`, a choice question's
    options in that sample's seeded order (the gold letter follows), else the item itself."""
    if not config.evaluate.shuffle_options:
        return item
    return shuffled(item, shuffle_seed(item.id, config.evaluate.seed + index))


def _shuffle_record(item: BenchItem) -> dict[str, Any]:
    shuffle = item.meta.get("shuffle")
    return {"options_seed": shuffle["seed"], "options_order": shuffle["order"],
            "target": item.target} if shuffle else {}


def _single(config: Config, items: list[BenchItem], runner: CallRunner,
            bar: PhaseProgress) -> tuple[list[dict], dict[str, Any]]:
    k = config.evaluate.samples
    views = [asked(config, item, i) for item in items for i in range(k)]
    requests = [Request.chat(messages_for(config, view), sampling_params(config, j % k))
                for j, view in enumerate(views)]
    cached_before = runner.stats.cached
    completions = runner.run(requests, progress=bar)
    bar.advance(runner.stats.cached - cached_before)
    grades = grade_many(views, [c.text for c in completions], config.evaluate.code_timeout_s)
    rows, per_question = [], []
    for qi, item in enumerate(items):
        per_question.append([])
        for i in range(k):
            j = qi * k + i
            completion, grade = completions[j], grades[j]
            correct = grade.correct if completion.ok else None
            reason = grade.reason if completion.ok else f"call failed: {completion.error}"
            per_question[-1].append(correct)
            rows.append({"question_id": item.id, "sample": i, "answer": grade.extracted,
                         "correct": correct, "reason": reason,
                         "finish_reason": completion.finish_reason,
                         "completion_tokens": completion.completion_tokens,
                         "call_key": runner.key(requests[j]), **_shuffle_record(views[j]),
                         "response": completion.text})
    stats = {"samples_per_question": k, "samples": len(rows),
             "correct": sum(r["correct"] is True for r in rows),
             "wrong": sum(r["correct"] is False for r in rows),
             "ungraded": sum(r["correct"] is None for r in rows),
             "truncated": sum(r["finish_reason"] == "length" for r in rows),
             "errors": sum(r["finish_reason"] == "error" for r in rows),
             "model_calls": len(requests)}
    return rows, {**stats, **_score(per_question, config)}


def _uq_ttc(config: Config, items: list[BenchItem], runner: CallRunner,
            judge_runner: CallRunner, bar: PhaseProgress) -> tuple[list[dict], dict[str, Any]]:
    from ..verify import Cascade
    from ..verify.quality import QualityTally

    cascade = Cascade(config.verify, judge_runner, max_tokens=config.judge_max_tokens)
    items = [asked(config, it, 0) for it in items]  # one order per question: the cascade's
    questions = [Question(id=it.id, text=it.question, domain=it.grader) for it in items]
    messages = [messages_for(config, it) for it in items]
    outcome = first_accepted(
        questions, lambda q, i: Request.chat(messages[q], sampling_params(config, i)),
        config.evaluate.uq_ttc_candidates, runner, cascade.judge, progress=bar)
    # Every judged candidate is graded, not only the chosen one: the verdicts against the real
    # grades measure the judge (precision: accepted ones that are right), which the paper never did.
    flat = [(q, c, v) for q, tried in enumerate(outcome.tried) for c, v in tried]
    flat_grades = grade_many([items[q] for q, _, _ in flat], [c.text for _, c, _ in flat],
                             config.evaluate.code_timeout_s)
    graded = {(items[q].id, c.sample_index): g for (q, c, _), g in zip(flat, flat_grades,
                                                                       strict=True)}
    rows = []
    for item, chosen, accepted, tried in zip(
        items, outcome.chosen, outcome.accepted, outcome.tried, strict=True
    ):
        grade = graded[(item.id, chosen.sample_index)]
        ok = chosen.finish_reason != "error"
        rows.append({
            "question_id": item.id, "sample": 0, "chosen_candidate": chosen.sample_index,
            "accepted": accepted, "candidates_judged": len(tried), "answer": grade.extracted,
            "correct": grade.correct if ok else None,
            "reason": grade.reason if ok else f"call failed: {chosen.error}",
            "finish_reason": chosen.finish_reason, "call_key": chosen.call_key,
            **_shuffle_record(item),
            "verdicts": [{"sample_index": c.sample_index, "accepted": v.accepted,
                          "rejected_by": v.rejected_by,
                          "correct": graded[(item.id, c.sample_index)].correct}
                         for c, v in tried],
            "response": chosen.text,
        })
    judge_calls = sum(s.calls for s in cascade.stats)
    quality = QualityTally([s.name for s in cascade.stats])  # the verify phase's measure
    for (_, _, verdict), grade in zip(flat, flat_grades, strict=True):
        quality.add(verdict, grade)
    n = max(1, len(items))
    stats = {
        "samples_per_question": 1, "samples": len(rows),
        "candidates": config.evaluate.uq_ttc_candidates,
        "correct": sum(r["correct"] is True for r in rows),
        "wrong": sum(r["correct"] is False for r in rows),
        "ungraded": sum(r["correct"] is None for r in rows),
        "truncated": sum(r["finish_reason"] == "length" for r in rows),
        "errors": sum(r["finish_reason"] == "error" for r in rows),
        "fallbacks": outcome.fallbacks, "fallback_rate": outcome.fallbacks / n,
        "accepted_at": dict(sorted(Counter(str(r["chosen_candidate"]) for r in rows
                                           if r["accepted"]).items())),
        "sampling_calls": outcome.sampling_calls, "judge_calls": judge_calls,
        "model_calls": outcome.sampling_calls + judge_calls,
        "judge_engine": judge_runner.backend.identity,
        "verify": config.verify.model_dump(mode="json"),
        "stages": list(cascade.stats),
        "judge_quality": quality.result(),
    }
    return rows, {**stats, **_score([[r["correct"]] for r in rows], config)}


def run_evaluate(config: Config, run: RunFolder, model: str = "base", method: str = "single",
                 progress: bool = True, backend: Backend | None = None,
                 judge_backend: Backend | None = None) -> dict[str, Any]:
    """Evaluate `model` (base, trained, a path or a backend string) on `evaluate.benchmarks`
    with `method` (single: pass@k over `evaluate.samples`; uq-ttc: first accepted of N).
    `backend` / `judge_backend` replace the engines the config names (tests use scripted ones).
    Returns {"model", "method", "benchmarks": {name: summary}}; see the module docstring."""
    if method not in METHODS:
        raise RunError(f"method {method!r}: expected one of {', '.join(METHODS)}")
    if not config.evaluate.benchmarks:
        raise RunError("evaluate.benchmarks is empty: name at least one benchmark")
    label, spec = resolve_model(config, run, model)
    benches = [load_benchmark(s, config.evaluate.limit, config.evaluate.columns)
               for s in config.evaluate.benchmarks]
    names = Counter(b.name for b in benches)
    if max(names.values()) > 1:
        raise RunError(f"benchmarks listed twice: {[n for n, c in names.items() if c > 1]}")
    overlaps = _check_overlaps(config, run, benches)
    golds = {b.name: validate_golds(b.items, config.evaluate.code_timeout_s) for b in benches}
    own = []
    if backend is None:
        from ..backends import make_backend

        backend = make_backend(spec, config.model)
        own.append(backend)
    if method == "uq-ttc" and judge_backend is None:
        judge_spec = config.verify.judge_backend
        if judge_spec and judge_spec != spec:
            from ..backends import make_backend

            judge_backend = make_backend(judge_spec, config.model)
            own.append(judge_backend)
    folder = label if method == "single" else f"{label}+{method}"
    results: dict[str, Any] = {"model": label, "method": method, "benchmarks": {}}
    try:
        for bench in benches:
            started = time.perf_counter()
            bad = golds[bench.name]
            items = [it for it in bench.items if it.id not in bad]
            runner = CallRunner(backend, run.calls)
            judge_runner = CallRunner(judge_backend, run.calls) if judge_backend else runner
            per_q = config.evaluate.samples if method == "single" else 1
            bar = PhaseProgress(f"{folder} {bench.name}", len(items) * per_q, enabled=progress)
            with bar:
                if method == "single":
                    rows, stats = _single(config, items, runner, bar)
                else:
                    rows, stats = _uq_ttc(config, items, runner, judge_runner, bar)
            out = run.file(f"eval/{folder}/{bench.name}")
            write_jsonl(out / "samples.jsonl", rows)
            write_jsonl(out / "gold_rejected.jsonl", [
                {"id": it.id, "where": it.where, "reason": bad[it.id]}
                for it in bench.items if it.id in bad])
            paid = runner.stats.paid + (judge_runner.stats.paid if judge_runner is not runner
                                           else 0)
            summary = EvalSummary.from_dict({
                **_summary_base(config, bench, label, spec, method, backend.identity, bad,
                                overlaps[bench.name]),
                **stats,
                "calls_per_question": stats["model_calls"] / max(1, len(items)),
                "paid_calls": paid, "cached_calls": runner.stats.cached
                + (judge_runner.stats.cached if judge_runner is not runner else 0),
                "completion_tokens_paid": runner.stats.completion_tokens,
                "engine_tokens_per_s": round(runner.stats.tokens_per_s, 2),
                "wall_s": round(time.perf_counter() - started, 2),
            })
            summary.write(out / EvalSummary.FILE)
            results["benchmarks"][bench.name] = summary.to_dict()
    finally:
        for engine in own:
            engine.close()
    return results
