"""The paper's headline and ablation table at embedded scale: does self-verified training beat
training on everything, on held-out questions, by more than the noise?

One run of the loop on the embedded model, and these cells trained and evaluated on the same
samples (every sample and vote shared through one call store, as `svdistill ablate` does):

    base              the embedded model, untrained
    first-valid       the demo's judge (rules + solve, v votes, majority), first accepted
    no-filter         every sample, unverified
    no-filter-first   sample 0 of as many questions as first-valid kept (a fixed random subset):
                      the same data size, unverified, so first-valid - no-filter-first is what
                      verification alone buys
    all-valid         every accepted sample (the demo's judge)
    single-judge      one "is this correct?" judge, first accepted
    paper-cascade     rules, cycle, factual, correctness; unanimous; first accepted
    UQ-TTC            the base model, first accepted of its own candidates at test time

Every trained cell trains the same number of steps (the same compute), fixed before any
evaluation from the seeds alone: `--epochs` passes over first-valid's training set. Nothing is
chosen from held-out results. Each model answers every held-out question `--samples` times
with the same seeds, so each difference is paired per question with a paired bootstrap CI.

Beside accuracy it reports the answer style: the share of answers written as a Python program
(the embedded coder model often answers arithmetic with code and an invented output), since
both filtered and unfiltered training change style as well as reasoning.

    python benchmarks/method_gain.py --out runs/method-gain             # the defaults
    python benchmarks/method_gain.py --out RUN --readme                 # also into README.md

Resumable: every phase keeps its done-marker, every call is stored; rerun the same command.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from svdistill.ablate import Ablation, Cell
from svdistill.cli import resolve_config
from svdistill.evaluate.benchmarks import load_benchmark, parse_gym_spec
from svdistill.evaluate.paired import paired_difference, question_means_file
from svdistill.evaluate.passk import bootstrap_ci

README = Path(__file__).resolve().parent / "README.md"
PROGRAM = re.compile(r"```python|\bprint\(|^\s*def \w+\(", re.M)


@dataclass(frozen=True)
class GainCell(Cell):
    """A grid cell with the two settings this table needs beyond `svdistill ablate`'s."""

    decision: str | None = None
    max_examples: int | None = None

    def configure(self, config):
        cfg = super().configure(config)
        if self.decision is not None:
            cfg.verify.decision = self.decision  # type: ignore[assignment]
        cfg.curate.max_examples = self.max_examples
        return cfg


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="run folder (resumable)")
    ap.add_argument("--task", default="arithmetic",
                    help="arithmetic (the built-in seeds and held-out set) or gym:TASK[,k=v...]: "
                    "a reasoning-gym task, seeds generated with seed 1, held out with the "
                    "benchmark's own seed (4242)")
    ap.add_argument("--seeds", type=int, default=200, help="seed questions")
    ap.add_argument("--n", type=int, default=4, help="candidates per seed question")
    ap.add_argument("--votes", type=int, default=3, help="votes of the demo's judge")
    ap.add_argument("--paper-votes", type=int, default=5, help="votes of the paper's cascade")
    ap.add_argument("--heldout", type=int, default=240, help="held-out questions")
    ap.add_argument("--samples", type=int, default=4, help="samples per held-out question")
    ap.add_argument("--epochs", type=float, default=2.0,
                    help="passes over first-valid's training set; every cell trains as long")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=320)
    ap.add_argument("--cells", default="", help="comma-separated subset of the cells")
    ap.add_argument("--no-uq-ttc", action="store_true", help="skip the UQ-TTC row")
    ap.add_argument("--readme", action="store_true", help="write the table into README.md")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override on top (e.g. model.backend=scripted for a dry run)")
    return ap.parse_args()


def base_config(args: argparse.Namespace):
    task = [] if args.task == "arithmetic" else [
        f"seeds.path={gym_seeds(args.task, args.seeds, args.out)}",
        # a procedural task's seeds and held-out questions share their templates word for word;
        # they are other instances (another generator seed), and no question is in both
        "evaluate.allow_overlap=true"]
    return resolve_config("demo", [
        f"seeds.limit={args.seeds}", f"sample.n={args.n}", f"sample.max_tokens={args.max_tokens}",
        f"verify.votes={args.votes}", f"verify.solve_max_tokens={args.max_tokens}",
        f"train.batch_size={args.batch_size}",
        f"evaluate.benchmarks=['{args.task}@{args.heldout}']", f"evaluate.samples={args.samples}",
        f"evaluate.max_tokens={args.max_tokens}", "evaluate.uq_ttc_candidates=2", *task, *args.set,
    ])


def gym_seeds(spec: str, count: int, out: Path) -> Path:
    """`count` seed questions of a reasoning-gym task (generator seed 1), as RUN/gym-seeds.jsonl;
    the answers are read only by the judge-quality figures. None of them is a held-out question."""
    import reasoning_gym

    task, options = parse_gym_spec(spec.removeprefix("gym:"))
    options.pop("seed", None)
    rows = [{"id": f"{task}-seed-{i}", "question": e["question"], "answer": str(e["answer"])}
            for i, e in enumerate(reasoning_gym.create_dataset(task, size=count, seed=1,
                                                               **options))]
    held_out = {item.question for item in load_benchmark(spec).items}
    rows = [r for r in rows if r["question"] not in held_out]
    path = out / "gym-seeds.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cells(args: argparse.Namespace, same_size: int | None) -> list[GainCell]:
    n, v = args.n, args.votes
    return [
        GainCell("first-valid", f"first-valid (rules + solve, v={v}, majority)", n, v,
                 "first-valid"),
        GainCell("no-filter", f"no filter (all {n} samples)", n, None, "no-filter"),
        GainCell("no-filter-first", f"no filter, sample 0 of {same_size} questions", n, None,
                 "no-filter-first", max_examples=same_size),
        GainCell("all-valid", f"all-valid (rules + solve, v={v})", n, v, "all-valid"),
        GainCell("single-judge", f"single judge, v={v}", n, v, "single-judge",
                 ("rules", "single")),
        GainCell("paper-cascade", f"paper cascade, v={args.paper_votes}, unanimous", n,
                 args.paper_votes, "first-valid", ("rules", "cycle", "factual", "correctness"),
                 decision="unanimous"),
    ]


def first_valid_size(config, args) -> int:
    """How many examples first-valid keeps (verify and curate only, no training)."""
    fv = cells(args, None)[:1]
    Ablation(config, args.out, fv, train=False, progress=not args.no_progress).run()
    stats = json.loads((args.out / "ablate" / "first-valid" / "sft" / "stats.json").read_text())
    return stats["kept"]


# -- the table ------------------------------------------------------------------------------------


def samples_file(folder: Path, benchmark: str) -> Path | None:
    """This run's samples; an earlier run of the folder with another --heldout left its own
    benchmark folder beside it."""
    path = folder / benchmark / "samples.jsonl"
    return path if path.exists() else None


def answer_style(path: Path) -> dict[str, float | None]:
    """The share of answers written as a program, and how often each style is right."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    programs = [r for r in rows if PROGRAM.search(r.get("response") or "")]
    text = [r for r in rows if not PROGRAM.search(r.get("response") or "")]

    def right(group: list[dict]) -> float | None:
        return sum(bool(r.get("correct")) for r in group) / len(group) if group else None

    return {"programs": len(programs) / max(len(rows), 1), "programs_right": right(programs),
            "text_right": right(text)}


def score(path: Path) -> dict:
    means = question_means_file(path)
    values = [m for m in means.values() if m is not None]
    low, high = bootstrap_ci(values)
    return {"means": means, "pass_at_1": sum(values) / len(values), "ci": (low, high),
            **answer_style(path)}


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def interval(low: float, high: float, signed: bool = False) -> str:
    f = "{:+.1f}" if signed else "{:.1f}"
    return f"[{f.format(100 * low)}, {f.format(100 * high)}]"


def table(args, results: dict, models: dict[str, dict],
          order: list[str]) -> tuple[str, list[str]]:
    """The table's rows in `order`; a cell whose judge accepted nothing has no model, and keeps
    its row (kept 0, the calls it paid) rather than vanishing from the table."""
    base = models["base"]
    rows_by_cell = {r["cell"]: r for r in results["cells"]}
    lines = ["| model | pass@1 % [95% CI] | gain over base, paired [CI] | training examples "
             "(correct %) | judge calls needed / paid | answers as programs % | right: "
             "programs / plain text % |",
             "|---|---|---|---|---|---|---|"]
    for name in order:
        row = rows_by_cell.get(name, {})
        if name not in models:
            if row:
                lines.append(f"| {row['setting']} | no model: nothing to train on | - | "
                             f"{row['kept']} | {row['calls_needed']} / {row['calls_paid']} | "
                             "- | - |")
            continue
        m = models[name]
        if name == "base":
            gain = "-"
        else:
            d = paired_difference(m["means"], base["means"], a=name, b="base",
                                  exclude_unpaired=True)
            gain = f"{100 * d.diff:+.1f} {interval(d.ci_low, d.ci_high, True)} ({d.verdict})"
        data = (f"{row['kept']} ({pct(row.get('kept_correct'))})" if row else "-")
        calls = f"{row['calls_needed']} / {row['calls_paid']}" if row else "-"
        lines.append(f"| {row.get('setting', name)} | {pct(m['pass_at_1'])} "
                     f"{interval(*m['ci'])} | {gain} | {data} | {calls} | "
                     f"{pct(m['programs'])} | {pct(m['programs_right'])} / "
                     f"{pct(m['text_right'])} |")
    pairs = [("first-valid", "no-filter"), ("first-valid", "no-filter-first"),
             ("first-valid", "UQ-TTC"), ("paper-cascade", "no-filter")]
    verdicts = []
    for a, b in pairs:
        if a in models and b in models:
            d = paired_difference(models[a]["means"], models[b]["means"], a=a, b=b,
                                  exclude_unpaired=True)
            half = (d.ci_high - d.ci_low) / 2
            verdicts.append(f"- {a} - {b}: {100 * d.diff:+.1f} points, paired 95% CI "
                            f"{interval(d.ci_low, d.ci_high, True)} (half-width "
                            f"{100 * half:.1f}) over {d.questions} questions: {d.verdict}")
    return "\n".join(lines), verdicts


def phase_minutes(root: Path) -> float:
    """Minutes the phases took, summed over every invocation that ran them (a resumed run
    counts each phase once, when it ran)."""
    timings = json.loads((root / "timings.json").read_text())
    return sum(sum(phases.values()) for phases in timings.values()) / 60


def write_readme(text: str, task: str) -> None:
    """The table into README.md, in place of the same task's earlier one."""
    begin, end = f"<!-- method_gain:{task}:begin -->", f"<!-- method_gain:{task}:end -->"
    readme = README.read_text(encoding="utf-8")
    block = f"{begin}\n{text}\n{end}"
    if begin in readme:
        head, rest = readme.split(begin, 1)
        readme = head + block + rest.split(end, 1)[1]
    else:
        readme = readme.rstrip() + "\n\n" + block + "\n"
    README.write_text(readme, encoding="utf-8")


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    config = base_config(args)
    size = first_valid_size(config, args)
    kept_fv = size or 1
    steps = max(1, math.ceil(args.epochs * kept_fv / args.batch_size))
    config.train.max_steps = steps
    grid = cells(args, size)
    only = [c for c in args.cells.split(",") if c] or None
    results = Ablation(config, args.out, grid, only=only, train=True,
                       progress=not args.no_progress, uq_ttc=not args.no_uq_ttc).run()

    root = args.out / "ablate"
    bench = load_benchmark(config.evaluate.benchmarks[0]).name  # its folder under eval/
    models = {"base": score(samples_file(root / "base" / "eval" / "base", bench))}
    for cell in grid:
        path = samples_file(root / cell.name / "eval" / "trained", bench)
        if path is not None:
            models[cell.name] = score(path)
    uq = samples_file(root / "base" / "eval" / "base+uq-ttc", bench)
    if uq is not None:
        models["UQ-TTC"] = score(uq)
    order = ["base", *(c.name for c in grid), "UQ-TTC"]
    body, verdicts = table(args, results, models, order)
    wall = time.perf_counter() - started
    text = "\n".join([
        f"Command: `python benchmarks/method_gain.py --out RUN --task {args.task} "
        f"--seeds {args.seeds} --n {args.n} "
        f"--votes {args.votes} --heldout {args.heldout} --samples {args.samples} "
        f"--epochs {args.epochs:g}`; {args.seeds} {args.task} seeds x {args.n} samples, "
        f"held-out {args.task}@{args.heldout} x {args.samples} samples; every cell trained "
        f"{steps} steps of batch {args.batch_size} ({args.epochs:g} epochs of first-valid's "
        f"{size} examples); phases {phase_minutes(root):.0f} min over every invocation "
        f"(this one {wall / 60:.0f} min).",
        "", body, "", *verdicts,
    ])
    print(text)
    (root / "method_gain.md").write_text(text + "\n", encoding="utf-8")
    if args.readme:
        write_readme(text, args.task)


if __name__ == "__main__":
    main()
