"""The `svdistill` command: one subcommand per phase. Each loads the config, opens the run
folder and calls the phase's `run_*` function; errors a user can fix are printed, not traced."""

from __future__ import annotations

import functools
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from .config import Config, load_config
from .store import RunError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Self-Verified Distillation: sample, self-verify, fine-tune, evaluate.")
console = Console()
err = Console(stderr=True)

ConfigArg = Annotated[
    str, typer.Argument(help="A YAML config file, or a packaged config name (demo, quick).")
]
OutOpt = Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder.")]
Overrides = Annotated[
    Optional[list[str]], typer.Argument(help="Overrides such as sample.n=8 model.backend=tiny.")
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
        except (RunError, FileNotFoundError, ValueError, ImportError) as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("\n[yellow]interrupted.[/] Everything finished so far is saved; "
                      "run the same command again to resume.")
            raise typer.Exit(130) from None

    return wrapper


def open_backend(spec: str, config: Config):
    from .backends import make_backend

    with err.status(f"loading model {spec} ..."):
        return make_backend(spec, config.model)


def summary_table(title: str, rows: dict) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:,.2f}" if isinstance(value, float) else str(value))
    return table


def default_out(config_name: str) -> Path:
    return Path("runs") / Path(config_name).stem


@app.command()
@user_errors
def sample(config: ConfigArg, out: OutOpt = None, overrides: Overrides = None,
           progress: ProgressOpt = True) -> None:
    """Sample n candidate solutions per seed question into RUN/candidates.jsonl."""
    from .runfolder import RunFolder
    from .sample import run_sample

    cfg = resolve_config(config, overrides)
    run = RunFolder(out or default_out(config))
    run.save_config(cfg)
    backend = open_backend(cfg.model.backend, cfg)
    try:
        summary = run_sample(cfg, run, backend, progress=progress and sys.stderr.isatty())
    finally:
        backend.close()
        run.close()
    s = summary.as_dict()
    console.print(summary_table("sample", {
        "questions": s["questions"], "candidates": s["candidates"],
        "truncated": s["truncated"], "failed calls": s["errors"],
        "calls paid / reused": f"{s['paid_calls']} / {s['cached_calls']}",
        "tokens generated": s["completion_tokens_paid"],
        "engine tokens/s": s["engine_tokens_per_s"], "wall time (s)": s["wall_s"],
    }))
    console.print(f"wrote {run.file('candidates.jsonl')}")
    if s["errors"]:
        err.print(f"[yellow]{s['errors']} calls failed; rerun to retry just those.[/]")
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    app()
