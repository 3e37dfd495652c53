"""The `svdistill` command: one subcommand per phase. Each loads the config, opens the run
folder and calls the phase's `run_*` function; errors a user can fix are printed, not traced."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .config import Config, load_config
from .phases import Engines, Executor, Phase, PhaseFailed
from .store import RunError

if TYPE_CHECKING:
    from .runfolder import RunFolder

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Self-Verified Distillation: sample, self-verify, fine-tune, evaluate.")
# Piped or redirected, rich assumes 80 columns and cuts the result tables' columns short; a
# file or a CI log has room for all of them.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)

ConfigArg = Annotated[
    str, typer.Argument(help="A YAML config file, or a packaged config name (demo, quick).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Run folder.")]
Overrides = Annotated[
    list[str] | None, typer.Argument(help="Overrides such as sample.n=8 model.backend=tiny.")
]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bars.")]


@app.callback()
def _root() -> None:
    """Self-Verified Distillation: sample, self-verify, fine-tune, evaluate."""


def packaged_config(name: str) -> Path:
    return Path(str(resources.files("svdistill") / "configs" / f"{name}.yaml"))


def resolve_config(name: str, overrides: list[str] | None) -> Config:
    path = Path(name)
    if not path.exists() and "/" not in name and not name.endswith((".yaml", ".yml")):
        path = packaged_config(name)
        if not path.exists():
            raise RunError(f"config {name!r}: no such file, and no packaged config of that name")
    return load_config(path, overrides)


def user_errors(func):
    """Print user-facing errors plainly and exit non-zero; Ctrl-C says how to resume."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PhaseFailed as exc:  # partial results are saved; a rerun retries the failed calls
            err.print(f"[yellow]{escape(str(exc))}[/]", highlight=False, soft_wrap=True)
            raise typer.Exit(PhaseFailed.exit_code) from None
        except (RunError, FileNotFoundError, ValueError, ImportError) as exc:
            # escaped: a message quoting `key=[a, b]` or a path with brackets is not markup;
            # soft_wrap: a long path stays one piece a user can copy
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # a full disk, a read-only folder: the environment, not a bug
            where = f"{exc.filename}: " if exc.filename else ""
            err.print(f"[bold red]error:[/] {escape(where + (exc.strerror or str(exc)))}",
                      highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("\n[yellow]interrupted.[/] Everything finished so far is saved; "
                      "run the same command again to resume.")
            raise typer.Exit(130) from None

    return wrapper


def bars(progress: bool) -> bool:
    """Progress bars only on a terminal: piped output stays plain."""
    return progress and sys.stderr.isatty()


def execute(run, phase: Phase, config: Config, show: Callable[[Any], None]) -> Any:
    """Run one phase through the executor (always: the call store makes a rerun cheap) and
    show its summary, also when calls failed and the phase is left to redo."""
    try:
        summary = Executor(console=err, skip_done=False).run(run, phase, config)
    except PhaseFailed as exc:
        if exc.summary is not None:
            show(exc.summary)
        raise
    show(summary)
    return summary


def summary_table(title: str, rows: dict) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:,.2f}" if isinstance(value, float) else str(value))
    return table


def default_out(config_name: str) -> Path:
    return Path("runs") / Path(config_name).stem


def open_run(config_name: str, out: Path | None) -> RunFolder:
    """The run folder (--out, else runs/CONFIG), refused before any work when its config.yaml
    is the user's own rather than one svdistill saved (RunFolder.check_own_config)."""
    from .runfolder import RunFolder

    run = RunFolder(out or default_out(config_name))
    run.check_own_config()
    return run


@app.command()
@user_errors
def sample(config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
           progress: ProgressOpt = True) -> None:
    """Sample n candidate solutions per seed question into RUN/candidates.jsonl."""
    from .phases import sample_phase

    cfg = resolve_config(config, overrides)
    run = open_run(config, out)
    engines = Engines(err)
    engines.model(cfg)  # run_sample saves the config once seeds load

    def show(summary) -> None:
        s = summary.stats()
        console.print(summary_table("sample", {
            "questions": s.questions, "candidates": s.candidates,
            "truncated": s.truncated, "failed calls": s.errors,
            "calls paid / reused": f"{s.paid_calls} / {s.cached_calls}",
            "tokens generated": s.completion_tokens_paid,
            "engine tokens/s": s.engine_tokens_per_s, "wall time (s)": s.wall_s,
        }))
        console.print(f"wrote {run.file('candidates.jsonl')}")

    try:
        execute(run, sample_phase(cfg, run, engines, bars(progress)), cfg, show)
    finally:
        engines.close()
        run.close()


@app.command()
@user_errors
def verify(config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
           progress: ProgressOpt = True) -> None:
    """Accept or reject every candidate in RUN/candidates.jsonl with the self-verification
    cascade; writes RUN/verdicts.jsonl, RUN/rejected/ and RUN/verify_stats.json."""
    from .phases import verify_phase
    from .verify.report import overall_table, stage_table
    from .verify.stages import build_stages

    cfg = resolve_config(config, overrides)
    run = open_run(config, out)
    build_stages(cfg.verify)  # a bad stage list or prompt file fails before the model loads
    if not run.file("candidates.jsonl").exists():
        raise RunError(f"{run.file('candidates.jsonl')} not found: run `svdistill sample` first")
    engines = Engines(err)
    engines.judge(cfg)

    def show(summary) -> None:
        console.print(stage_table(summary))
        console.print(overall_table(summary))
        console.print(f"wrote {run.file('verdicts.jsonl')}")

    try:
        run.save_config(cfg)  # only once the judge has loaded: a failed start changes nothing
        execute(run, verify_phase(cfg, run, engines, bars(progress)), cfg, show)
    finally:
        engines.close()
        run.close()


@app.command()
@user_errors
def curate(config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
           progress: ProgressOpt = True) -> None:
    """Turn RUN/verdicts.jsonl into a training set (curate.policy); writes RUN/sft/."""
    from .phases import curate_phase

    cfg = resolve_config(config, overrides)
    # config.yaml is not rewritten: it records the prompts the candidates were sampled with,
    # which the training examples must repeat. Curate's settings go into sft/stats.json.
    run = open_run(config, out)
    s = execute(run, curate_phase(cfg, run, bars(progress)), cfg, lambda summary: None)
    rows: dict = {
        "policy": s.policy, "questions": s.questions, "candidates": s.candidates,
        "accepted candidates": s.accepted,
        "questions with an accepted candidate": s.questions_with_accepted,
        "selected by policy": s.selected, "kept (training examples)": s.kept,
    }
    rows.update({f"dropped: {reason}": count for reason, count in sorted(s.dropped.items())})
    tokens = s.tokens
    if tokens:
        rows["tokens per example mean / p50 / p95 / max"] = (
            f"{tokens['mean']} / {tokens['p50']} / {tokens['p95']} / {tokens['max']}")
        rows[f"longer than train.max_length={cfg.train.max_length}"] = tokens["over_max_length"]
    console.print(summary_table("curate", rows))
    for warning in s.warnings:
        err.print(f"[yellow]{warning}[/]", highlight=False)
    console.print(f"wrote {run.file('sft')} (train.jsonl, dataset/, dropped.jsonl, stats.json)")
    if not s.kept:
        raise typer.Exit(1)


@app.command()
@user_errors
def train(config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
          progress: ProgressOpt = True) -> None:
    """Fine-tune the model on RUN/sft/ (LoRA or full); writes RUN/model/ and RUN/train/."""
    cfg = resolve_config(config, overrides)
    run = open_run(config, out)
    if not run.file("sft/train.jsonl").exists():  # fail before the slow training imports
        raise RunError(f"{run.file('sft/train.jsonl')} not found: run `svdistill curate` first")
    if cfg.train.base_model and not Path(cfg.train.base_model).exists():
        raise RunError(f"train.base_model: no model at {cfg.train.base_model}")
    try:
        import svdistill.train  # noqa: F401 - fail here, with the extra to install, not mid-phase
    except ImportError as exc:
        raise RunError(f"training needs the train extra: pip install 'svdistill[train]' ({exc})"
                       ) from None
    from .phases import train_phase

    s = execute(run, train_phase(cfg, run, bars(progress)), cfg, lambda summary: None)
    if not s.model_dir:
        return  # not the main process of a multi-GPU launch
    console.print(summary_table("train", {
        "base model": s.base_model, "method": s.method, "examples": s.examples,
        "dropped: longer than max_length": len(s.dropped_too_long),
        "steps / epochs": f"{s.steps} / {s.epochs}",
        "effective batch": s.effective_batch,
        "loss first / last": f"{s.first_loss:.4f} / {s.last_loss:.4f}"
        if s.first_loss is not None and s.last_loss is not None else "-",
        "s / step": s.s_per_step, "wall time (s)": s.wall_s,
        "peak memory (MiB)": s.peak_rss_mib,
    }))
    console.print(f"wrote {s.model_dir}; evaluate it with model.backend=hf:{s.model_dir}")


@app.command()
@user_errors
def evaluate(
    config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
    model: Annotated[str, typer.Option(
        "--model", "-m", help="base (model.backend), trained (RUN/model), a model path or a "
        "backend string.")] = "base",
    method: Annotated[str, typer.Option(
        "--method", help="single: pass@k over evaluate.samples; uq-ttc: first of "
        "evaluate.uq_ttc_candidates the cascade accepts.")] = "single",
    allow_overlap: Annotated[bool, typer.Option(
        "--allow-overlap", help="Report on benchmarks that overlap the run's seeds.")] = False,
    progress: ProgressOpt = True,
) -> None:
    """Evaluate a model on evaluate.benchmarks; writes RUN/eval/<model>/<benchmark>/ and prints
    every result in the run side by side."""
    from .evaluate import comparison_rows, comparison_table
    from .evaluate.results import write_comparison
    from .phases import evaluate_phase

    cfg = resolve_config(config, overrides)
    if allow_overlap:
        cfg.evaluate.allow_overlap = True
    run = open_run(config, out)
    if not run.file("config.yaml").exists():
        run.save_config(cfg)  # an evaluation-only run; a pipeline run keeps its sampling config
    engines = Engines(err)

    def show(results) -> None:
        rows = comparison_rows(run)
        console.print(comparison_table(rows))
        write_comparison(run.file("eval/comparison.json"), rows)
        for name, s in results["benchmarks"].items():
            if s["gold_rejected"]:
                err.print(f"[yellow]{name}: {s['gold_rejected']} rows set aside because their "
                          "gold answer did not grade as correct (see gold_rejected.jsonl).[/]")

    try:
        err.print(f"evaluating {model} ({method}) ...")
        execute(run, evaluate_phase(cfg, run, engines, bars(progress), model, method), cfg, show)
    finally:
        engines.close()
        run.close()


@app.command()
@user_errors
def report(
    run: Annotated[Path, typer.Argument(help="Run folder (a single run or a multi-round one).")],
    open_report: Annotated[bool, typer.Option(
        "--open/--no-open", help="Open the report in the default browser.")] = False,
) -> None:
    """Write RUN/report.html: results against the base model and UQ-TTC, the acceptance
    funnel, votes, calls, judge quality, curation, training and sampling; prints its path."""
    from .report import build_report

    path = build_report(run)
    typer.echo(str(path))  # the bare path, so scripts can capture it
    if open_report:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


def _run_loop(cfg: Config, out: Path, progress: bool) -> None:
    from .evaluate.results import comparison_table, paired_comparisons, write_comparison
    from .pipeline import Pipeline
    from .report import build_report

    pipeline = Pipeline(cfg, out, progress=bars(progress), console=err)
    rows = pipeline.run()
    report = build_report(out)
    paired = paired_comparisons(rows)
    console.print(comparison_table(rows, paired))
    write_comparison(out / "comparison.json", rows, paired)
    timings = pipeline.timings
    total = sum(t for phases in timings.values() for t in phases.values())
    console.print(f"phase wall time this run: {total:,.0f} s; report: {report}")


@app.command("run")
@user_errors
def run_command(config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
                progress: ProgressOpt = True) -> None:
    """The whole loop: sample, verify, curate, train, evaluate (base, trained, UQ-TTC), report.
    Rerun the same command to resume; finished phases are skipped."""
    cfg = resolve_config(config, overrides)
    _run_loop(cfg, out or default_out(config), progress)


@app.command()
@user_errors
def demo(quick: Annotated[bool, typer.Option("--quick", help="The 5-minute version.")] = False,
         domain: Annotated[str, typer.Option(
             "--domain", help="math (arithmetic), science (physics multiple choice) or code "
             "(HumanEval halves).")] = "math",
         out: OutOpt = None, overrides: Overrides = None, progress: ProgressOpt = True) -> None:
    """`run` on the embedded model with a packaged config (configs/demo[-DOMAIN][-quick].yaml):
    built-in seeds (their answers never reach the method) and a disjoint held-out set."""
    if domain not in ("math", "science", "code"):
        raise RunError(f"--domain {domain!r}: expected math, science or code")
    name = ("demo" if domain == "math" else f"demo-{domain}") + ("-quick" if quick else "")
    cfg = resolve_config(name, overrides)
    _run_loop(cfg, out or Path("runs") / name, progress)


@app.command()
@user_errors
def export(
    run: Annotated[Path, typer.Argument(help="Run folder with a trained model.")],
    gguf: Annotated[bool, typer.Option("--gguf", help="Also write RUN/export/model-QUANT.gguf "
                                       "with llama.cpp's converter.")] = False,
    quant: Annotated[str, typer.Option("--quant", help="F16, Q8_0 or Q4_K_M.")] = "Q8_0",
) -> None:
    """Write Hugging Face cards beside the trained model and its training set and, with --gguf,
    the model as GGUF, checked by loading it in llama-cpp-python (svdistill.export)."""
    from .export import run_export

    summary = run_export(run, gguf=gguf, quant=quant)
    console.print(summary_table("export", {k: v for k, v in summary.items() if k != "check"}))
    if "check" in summary:
        console.print(f"llama-cpp-python loaded it and answered: {summary['check']['reply']!r}")


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise RunError(f"{name} {text!r}: expected comma-separated integers, e.g. 1,4,8") from None


@app.command()
@user_errors
def ablate(
    config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
    n: Annotated[str, typer.Option("--n", help="Candidates per question of the grid.")] = "1,4,8",
    v: Annotated[str, typer.Option("--v", help="Votes per stage of the grid.")] = "1,3,5",
    cells: Annotated[str | None, typer.Option(
        "--cells", help="Only these cells, comma-separated: n8-v5, no-filter, single-judge, "
        "all-valid ...")] = None,
    train: Annotated[bool, typer.Option(
        "--train/--no-train", help="Train and evaluate a model per cell, or only the "
        "data-side columns (kept examples, acceptance, judge precision/recall, calls).")] = True,
    progress: ProgressOpt = True,
) -> None:
    """The paper's ablation grid (n x v, no filter, single judge, all-valid) on RUN's samples,
    reusing RUN's stored calls; writes RUN/ablate/ and RUN/ablate/results.{json,md}."""
    from .ablate import results_table, run_ablation

    cfg = resolve_config(config, overrides)
    names = [c.strip() for c in cells.split(",") if c.strip()] if cells else None
    results = run_ablation(cfg, out or default_out(config), _ints(n, "--n"), _ints(v, "--v"),
                           names, train, bars(progress), console=err)
    console.print(results_table(results))
    console.print(f"wrote {Path(results['run']) / 'ablate' / 'results.json'} and results.md")


def main() -> None:  # pragma: no cover
    app()
