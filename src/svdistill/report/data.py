"""The data sections: curation, training, sampling, examples of the text, and what the run holds.

Each reads its phase's record (`CurateSummary`, `TrainSummary`, `SampleStats`) and the phase's
JSONL files for what the record does not hold (loss history, response lengths, examples).
"""

from __future__ import annotations

import statistics

from ..summaries import CurateSummary, SampleStats, TrainSummary, VerifyStats
from .html import Raw, Row, esc, image, kv_table, missing, note, num, pct, plot, section, table
from .view import ITEMS, TITLES, RunView

EXAMPLE_CHARS = 1500  # longer texts are cut in the examples section; the files hold them whole


def curation_section(stats: CurateSummary | None, level: int, prefix: str = "") -> str:
    title = TITLES["curation"]
    if not stats:
        return section(f"{prefix}curation", title, missing("sft/stats.json", "curate"), level)
    body = kv_table(
        {
            "policy": stats.policy,
            "questions": stats.questions,
            "candidates": stats.candidates,
            "accepted candidates": stats.accepted,
            "questions with an accepted candidate": stats.questions_with_accepted,
            "selected by the policy": stats.selected,
            "kept (training examples)": stats.kept,
            "kept per question": pct(stats.kept / stats.questions if stats.questions else None),
            "truncated responses kept": stats.truncated_kept,
        }
    )
    dropped = sorted(stats.dropped.items())
    body += (
        table(["dropped, by reason", "count"], [[r, n] for r, n in dropped])
        if dropped
        else note("Nothing dropped.")
    )
    tokens = stats.tokens
    if tokens:
        names = [
            "examples",
            "min",
            "mean",
            "p50",
            "p95",
            "max",
            "response_mean",
            "over_max_length",
            "total",
        ]
        body += table(
            [n.replace("_", " ") for n in names],
            [[tokens.get(n) for n in names]],
            caption="Example length in tokens (prompt + response, as sampled)",
        )
    for warning in stats.warnings:
        body += f'<p class="warn-text">{esc(warning)}</p>'
    return section(f"{prefix}curation", title, body, level)


def training_section(v: RunView, level: int, prefix: str = "") -> str:
    title = TITLES["training"]
    stats = v.summary(TrainSummary)
    losses = [
        (r["step"], r["loss"])
        for r in v.rows("train/log.jsonl")
        if isinstance(r.get("loss"), (int, float)) and "step" in r
    ]
    if not losses:  # trainer_state.json holds the same history when the log is gone
        history = (v.json("train/trainer_state.json") or {}).get("log_history") or []
        losses = [(h["step"], h["loss"]) for h in history if "loss" in h and "step" in h]
    if not stats and not losses:
        return section(
            f"{prefix}training",
            title,
            missing("train/stats.json and train/log.jsonl", "train"),
            level,
        )
    body = ""
    if stats:
        t = stats.train
        body += kv_table(
            {
                "base model": stats.base_model,
                "method": stats.method,
                "examples": stats.examples,
                "dropped: longer than max_length": len(stats.dropped_too_long),
                "steps / epochs": f"{num(stats.steps)} / {num(stats.epochs)}",
                "effective batch": stats.effective_batch,
                "learning rate / weight decay / warmup": f"{num(t.get('learning_rate'))} / "
                f"{num(t.get('weight_decay'))} / {num(t.get('warmup_ratio'))}",
                "trainable parameters": stats.trainable_params,
                "loss first / last / mean": f"{num(stats.first_loss)} / "
                f"{num(stats.last_loss)} / {num(stats.train_loss)}",
                "s / step": stats.s_per_step,
                "wall time (s)": stats.wall_s,
                "peak memory MiB (RAM / GPU)": f"{num(stats.peak_rss_mib)} / "
                f"{num(stats.peak_gpu_mib)}",
                "model folder": stats.model_dir,
            }
        )
    else:
        body += missing("train/stats.json (training did not finish)", "train")
    if losses:
        body += image(
            plot("loss_plot", [s for s, _ in losses], [x for _, x in losses]), "training loss"
        )
    else:
        body += missing("training loss log (train/log.jsonl)")
    return section(f"{prefix}training", title, body, level)


def sampling_section(v: RunView, config: dict, level: int, prefix: str = "") -> str:
    title = TITLES["sampling"]
    stats = v.summary(SampleStats)
    if not stats:
        return section(f"{prefix}sampling", title, missing("sample_stats.json", "sample"), level)
    s = config.get("sample") or {}
    body = kv_table(
        {
            "questions": stats.questions,
            "candidates": stats.candidates,
            "n / temperature / top_p / max_tokens": f"{s.get('n', '–')} / "
            f"{s.get('temperature', '–')} / {s.get('top_p', '–')} / {s.get('max_tokens', '–')}",
            "truncated (hit max_tokens)": stats.truncated,
            "failed calls": stats.errors,
            "calls paid / reused": f"{num(stats.paid_calls)} / {num(stats.cached_calls)}",
            "completion tokens paid": stats.completion_tokens_paid,
            "engine tokens/s": stats.engine_tokens_per_s,
            "seed rows / duplicates / skipped": f"{num(stats.seed_rows)} / "
            f"{num(stats.duplicate_seeds)} / {num(sum(stats.skipped_seeds.values()))}",
            "wall time (s)": stats.wall_s,
        }
    )
    lengths = sorted(int(c.get("completion_tokens") or 0) for c in v.rows("candidates.jsonl"))
    if lengths:
        body += table(
            ["candidates", "min", "mean", "p50", "p95", "max"],
            [
                [
                    len(lengths),
                    lengths[0],
                    round(statistics.fmean(lengths), 1),
                    lengths[len(lengths) // 2],
                    lengths[min(len(lengths) - 1, int(0.95 * len(lengths)))],
                    lengths[-1],
                ]
            ],
            caption="Response length in tokens",
        )
    return section(f"{prefix}sampling", title, body, level)


def _example(
    label: str, question: str | None, response: str, reason: str = "", opened: bool = False
) -> str:
    def cut(text: str) -> str:
        return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + " [...]"

    parts = [f"<summary>{esc(label)}</summary>"]
    if reason:
        parts.append(f'<p class="note">{esc(reason)}</p>')
    if question is not None:
        parts.append(
            f'<div class="label">question</div><pre class="text">{esc(cut(question))}</pre>'
        )
    parts.append(f'<div class="label">response</div><pre class="text">{esc(cut(response))}</pre>')
    return f'<details class="example"{" open" if opened else ""}>{"".join(parts)}</details>'


def examples_section(v: RunView, level: int, prefix: str = "") -> str:
    """The first training example and the first rejection of each stage, for a look at the text."""
    title = TITLES["examples"]
    picks: list[tuple[str, dict, str]] = []
    for row in v.rows("sft/train.jsonl", limit=1):
        msgs = {m.get("role"): m.get("content", "") for m in row.get("messages") or []}
        picks.append(("first training example", row, msgs.get("assistant", "")))
        row["_question"] = msgs.get("user")
    verify = v.summary_or_none(VerifyStats)
    for stage in verify.stages if verify else []:  # in cascade order, named by the record
        for row in v.rows(stage.rejected_file, limit=1) if stage.rejected_file else []:
            picks.append((f"rejected by {stage.name}", row, row.get("text", "")))
    if not picks:
        what = missing("sft/train.jsonl and rejected/", "curate")
        return section(f"{prefix}examples", title, what, level)
    wanted = {p[1].get("question_id") for p in picks if "_question" not in p[1]}
    texts = (
        {q.get("id"): q.get("text") for q in v.rows("questions.jsonl") if q.get("id") in wanted}
        if wanted
        else {}
    )
    body = "".join(
        _example(
            f"{label}: {row.get('question_id')} #{row.get('sample_index')}",
            row.get("_question", texts.get(row.get("question_id"))),
            str(text),
            row.get("reason", ""),
            opened=i == 0,
        )
        for i, (label, row, text) in enumerate(picks)
    )
    return section(f"{prefix}examples", title, body, level)


def contents_section(v: RunView, level: int, prefix: str = "") -> str:
    rows = [
        Row(
            [
                name,
                what,
                Raw('<span class="ok">present</span>')
                if v.has(name)
                else Raw(f'<span class="absent">missing</span> (svdistill {esc(phase)})'),
            ],
            "" if v.has(name) else "absent-row",
        )
        for name, phase, what in ITEMS
    ]
    body = table(["file", "what", "status"], rows)
    return section(f"{prefix}contents", TITLES["contents"], body, level)
