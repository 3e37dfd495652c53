"""The phase contract and the one executor every entry point runs phases through.

A phase is a name, the config sections its result depends on, and an action that writes the
phase's artifacts into a run folder and returns its summary. The executor owns what every phase
shares, so `svdistill sample` (and every other phase command), `svdistill run` and `svdistill
ablate` cannot drift apart:

- the done-marker: `phases.json` in the run folder maps a phase's label to a hash of the config
  sections it depends on; a phase marked done with the same hash is skipped (when asked to);
- the failure rule: a phase whose model calls failed after the engine's retries writes its
  outputs but is *not* marked done, and raises `PhaseFailed` (exit status 1), because failed
  calls are not stored and a rerun retries just those;
- timings: wall seconds per folder and phase in the root's `timings.json`.

Engines are injected: `Engines` loads one per backend string and shares it between phases.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from .store import RunError, write_json

if TYPE_CHECKING:
    from .backends.base import Backend
    from .config import Config
    from .runfolder import RunFolder

# The config sections each kind of phase depends on: what its done-marker hashes.
INPUTS: dict[str, tuple[str, ...]] = {
    "sample": ("model", "seeds", "sample"),
    "verify": ("model", "seeds", "sample", "verify"),
    "curate": ("model", "seeds", "sample", "verify", "curate"),
    "train": ("model", "seeds", "sample", "verify", "curate", "train"),
    "evaluate-base": ("model", "seeds", "evaluate"),
    "evaluate-uq-ttc": ("model", "seeds", "verify", "evaluate"),
    "evaluate-trained": ("model", "seeds", "sample", "verify", "curate", "train", "evaluate"),
}


def inputs_hash(config: Config, kind: str) -> str:
    """A hash of the config sections phase `kind` depends on (its done-marker value)."""
    dump = config.model_dump(mode="json")
    picked = {name: dump[name] for name in INPUTS[kind]}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]


class PhaseFailed(RunError):
    """Model calls failed after retries: the outputs are written, the phase is not done.
    `summary` is the phase's summary, for commands that print it before they exit."""

    exit_code = 1

    def __init__(self, message: str, summary: Any = None):
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class Phase:
    """One phase of one run folder.

    `label` names it in phases.json and timings.json ("sample", "evaluate base"); `kind` picks
    its config sections from INPUTS; `action` does the work and returns the summary;
    `errors` reads the number of calls that failed after retries out of that summary;
    `failed` says what those failures mean, for the message."""

    label: str
    kind: str
    action: Callable[[], Any]
    errors: Callable[[Any], int] = lambda summary: int(getattr(summary, "errors", 0) or 0)
    failed: str = "calls failed after retries"


class PhaseLog:
    """`phases.json` of one run folder: which phases finished, with which inputs."""

    def __init__(self, run: RunFolder):
        self.path = run.file("phases.json")
        self.done: dict[str, str] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def is_done(self, label: str, digest: str) -> bool:
        return self.done.get(label) == digest

    def mark(self, label: str, digest: str) -> None:
        self.done[label] = digest
        write_json(self.path, self.done)

    def unmark(self, label: str) -> None:
        if self.done.pop(label, None) is not None:
            write_json(self.path, self.done)


def is_done(folder: Path, label: str, config: Config, kind: str) -> bool:
    """Whether `folder`'s phases.json marks `label` done with `config`'s inputs."""
    from .runfolder import RunFolder

    return folder.is_dir() and PhaseLog(RunFolder(folder)).is_done(label, inputs_hash(config, kind))


class Executor:
    """Runs phases: skip when done (if `skip_done`), time, apply the failure rule, mark done.

    The phase commands pass `skip_done=False`: a rerun of `svdistill sample` redoes the phase,
    which the call store makes cheap, and prints its figures again."""

    def __init__(self, timings: Path | None = None, console: Console | None = None,
                 skip_done: bool = True):
        self.console = console or Console(stderr=True)
        self.skip_done = skip_done
        self.timings_path = timings
        self.timings: dict[str, dict[str, float]] = {}
        if timings is not None and timings.exists():
            self.timings = json.loads(timings.read_text())

    def run(self, run: RunFolder, phase: Phase, config: Config) -> Any:
        """The phase's summary, or None when it was skipped as done."""
        if os.environ.get("RANK", "0") != "0":  # another process of a multi-process launch:
            return phase.action()  # the main process keeps the books
        log = PhaseLog(run)
        digest = inputs_hash(config, phase.kind)
        if self.skip_done and log.is_done(phase.label, digest):
            self.console.print(f"[dim]{run.path.name}: {phase.label} already done, skipped[/]")
            return None
        if self.skip_done:
            self.console.rule(f"[bold]{run.path.name}: {phase.label}")
        log.unmark(phase.label)  # a phase that starts again is not done until it finishes
        started = time.perf_counter()
        summary = phase.action()
        failed = phase.errors(summary)
        if failed:
            raise PhaseFailed(f"{run.path.name}: {phase.label}: {failed} {phase.failed}; rerun "
                              "the same command to retry just those (the phase is not marked "
                              "done)", summary)
        log.mark(phase.label, digest)
        self.timings.setdefault(run.path.name, {})[phase.label] = round(
            time.perf_counter() - started, 1)
        if self.timings_path is not None:
            write_json(self.timings_path, self.timings)
        return summary


class Engines:
    """Model engines, one per backend string, loaded on first use and shared by every phase
    that names the same one. `preloaded` injects engines (tests pass scripted ones)."""

    def __init__(self, console: Console | None = None,
                 preloaded: dict[str, Backend] | None = None):
        self.console = console or Console(stderr=True)
        self._loaded: dict[str, Backend] = dict(preloaded or {})
        self._given = set(self._loaded)  # injected, so kept by `release`

    def provide(self, spec: str, backend: Backend) -> None:
        """Use `backend` wherever `spec` is named (instead of loading it)."""
        self._loaded[spec] = backend
        self._given.add(spec)

    def get(self, spec: str, config: Config) -> Backend:
        if spec not in self._loaded:
            from .backends import make_backend

            with self.console.status(f"loading model {spec} ..."):
                self._loaded[spec] = make_backend(spec, config.model)
        return self._loaded[spec]

    def model(self, config: Config) -> Backend:
        return self.get(config.model.backend, config)

    def judge(self, config: Config) -> Backend:
        return self.get(config.verify.judge_backend or config.model.backend, config)

    def release(self) -> None:
        """Close the engines loaded here (their memory goes back, for training or another
        model); a later phase that names one loads it again. Injected engines stay."""
        for spec in [s for s in self._loaded if s not in self._given]:
            self._loaded.pop(spec).close()

    def close(self) -> None:
        for backend in self._loaded.values():
            backend.close()
        self._loaded.clear()
        self._given.clear()


# -- the phases of the method, as the entry points compose them ---------------------------------
# Heavy modules (the training stack above all) are imported inside the actions, so composing a
# phase costs nothing until it runs.


def sample_phase(config: Config, run: RunFolder, engines: Engines, progress: bool) -> Phase:
    def action():
        from .sample import run_sample

        return run_sample(config, run, engines.model(config), progress=progress)

    return Phase("sample", "sample", action)


def verify_phase(config: Config, run: RunFolder, engines: Engines, progress: bool) -> Phase:
    def action():
        from .verify import run_verify

        return run_verify(config, run, engines.judge(config), progress=progress)

    return Phase("verify", "verify", action,
                 failed="candidates were rejected because a judge call failed after retries")


def curate_phase(config: Config, run: RunFolder, progress: bool) -> Phase:
    def action():
        from .curate import run_curate

        return run_curate(config, run, progress=progress)

    return Phase("curate", "curate", action, errors=lambda summary: 0)


def train_phase(config: Config, run: RunFolder, progress: bool) -> Phase:
    def action():
        from .train import run_train

        return run_train(config, run, progress=progress)

    return Phase("train", "train", action, errors=lambda summary: 0)


def evaluation_errors(results: dict[str, Any]) -> int:
    """Calls that failed after retries in `run_evaluate`'s results: the model's samples and,
    for UQ-TTC, the judge's votes."""
    return sum(s.get("errors", 0) + sum(st.get("errors", 0) for st in s.get("stages", []))
               for s in results["benchmarks"].values())


def evaluate_phase(config: Config, run: RunFolder, engines: Engines | None, progress: bool,
                   model: str = "base", method: str = "single") -> Phase:
    """Evaluate `model` with `method`. The base model's engines come from `engines`; a trained
    model or a path is loaded by the evaluation itself (None: every engine is)."""
    def action():
        from .evaluate import run_evaluate

        backends: dict[str, Any] = {}
        if engines is not None and model == "base":
            backends["backend"] = engines.model(config)
            if method == "uq-ttc":
                backends["judge_backend"] = engines.judge(config)
        return run_evaluate(config, run, model, method, progress, **backends)

    # A trained model depends on everything before it; any other model on its own settings,
    # and through UQ-TTC on the cascade's too.
    if model == "trained":
        kind = "evaluate-trained"
    else:
        kind = "evaluate-uq-ttc" if method == "uq-ttc" else "evaluate-base"
    name = model if method == "single" else ("uq-ttc" if model == "base" else f"{model} {method}")
    return Phase(f"evaluate {name}", kind, action, errors=evaluation_errors)
