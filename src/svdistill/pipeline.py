"""The whole loop: sample -> verify -> curate -> train -> evaluate, for one or more rounds.

Layout of `svdistill run CONFIG --out RUN`:

    RUN/config.yaml            the resolved config
    RUN/round-1/ ...           a run folder per round (the shape every phase command uses)
    RUN/round-1/no-filter/     the no-filter ablation, when run.no_filter is on
    RUN/timings.json           wall seconds per round and phase
    RUN/report.html            the report, written at the end

A phase is skipped when `phases.json` in its round folder says it finished with the same inputs
(a hash of the config sections it depends on). Phases that call a model are also cheap to redo
because every call is in the round's call store; training is the one phase that is not, so its
marker matters most. Round k > 1 samples from, and trains on top of, round k-1's model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from .config import Config
from .runfolder import RunFolder
from .store import RunError, write_json

# The config sections each phase's result depends on.
INPUTS: dict[str, tuple[str, ...]] = {
    "sample": ("model", "seeds", "sample"),
    "verify": ("model", "seeds", "sample", "verify"),
    "curate": ("model", "seeds", "sample", "verify", "curate"),
    "train": ("model", "seeds", "sample", "verify", "curate", "train"),
    "evaluate-base": ("model", "seeds", "evaluate"),
    "evaluate-uq-ttc": ("model", "seeds", "verify", "evaluate"),
    "evaluate-trained": ("model", "seeds", "sample", "verify", "curate", "train", "evaluate"),
}


def inputs_hash(config: Config, phase: str) -> str:
    dump = config.model_dump(mode="json")
    picked = {name: dump[name] for name in INPUTS[phase]}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:16]


class StopRounds(Exception):
    """A round produced no trained model, so later rounds cannot start."""


# A phase whose calls failed after the backend's retries raises instead of being marked done:
# its outputs are written, but failed calls are not stored, so the rerun this asks for retries
# just those rather than reusing a degraded result. The three phases that call a model go
# through these wrappers, in `svdistill run` and `svdistill ablate` alike.
_RERUN = "rerun the same command to retry just those"


def sample_fully(config: Config, run: RunFolder, backend: Any, progress: bool) -> None:
    from .sample import run_sample

    summary = run_sample(config, run, backend, progress=progress)
    if summary.errors:
        raise RunError(f"{summary.errors} sampling calls failed after retries; {_RERUN}")


def verify_fully(config: Config, run: RunFolder, judge: Any, progress: bool) -> None:
    from .verify import run_verify

    summary = run_verify(config, run, judge, progress=progress)
    if summary.errors:
        raise RunError(f"{summary.errors} candidates were rejected because a judge call "
                       f"failed after retries; {_RERUN}")


def evaluate_fully(config: Config, run: RunFolder, model: str, method: str, progress: bool,
                   **backends: Any) -> None:
    """run_evaluate; raises if calls failed (samples and, for UQ-TTC, judge votes)."""
    from .evaluate import run_evaluate

    results = run_evaluate(config, run, model, method, progress, **backends)
    failed = sum(s.get("errors", 0) + sum(st.get("errors", 0) for st in s.get("stages", []))
                 for s in results["benchmarks"].values())
    if failed:
        raise RunError(f"evaluate {model} ({method}): {failed} calls failed after retries; "
                       f"{_RERUN}")


def _has_examples(run: RunFolder) -> bool:
    path = run.file("sft/train.jsonl")
    with open(path, "rb") as f:
        return any(line.strip() for line in f)


class PhaseLog:
    """`phases.json` of one round folder: which phases finished, with which inputs."""

    def __init__(self, run: RunFolder):
        self.path = run.file("phases.json")
        self.done: dict[str, str] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def is_done(self, phase: str, digest: str) -> bool:
        return self.done.get(phase) == digest

    def mark(self, phase: str, digest: str) -> None:
        self.done[phase] = digest
        write_json(self.path, self.done)


class Pipeline:
    def __init__(self, config: Config, out: Path, progress: bool = True,
                 console: Console | None = None):
        self.config = config
        self.root = RunFolder(out)
        self.progress = progress
        self.console = console or Console(stderr=True)
        self.timings: dict[str, dict[str, float]] = {}
        timings = self.root.file("timings.json")
        if timings.exists():
            self.timings = json.loads(timings.read_text())
        self._backends: dict[str, Any] = {}

    # -- engines are loaded once and shared by the phases that use the same model ----------

    def backend(self, spec: str, config: Config):
        if spec not in self._backends:
            from .backends import make_backend

            with self.console.status(f"loading model {spec} ..."):
                self._backends[spec] = make_backend(spec, config.model)
        return self._backends[spec]

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()

    # -- the loop -------------------------------------------------------------------------------

    def round_config(self, k: int) -> Config:
        """Round k's config: round 1 is the config itself; later rounds start from the last
        round's model and, with round_seeds=fresh, the next slice of seed questions."""
        config = self.config.model_copy(deep=True)
        if k > 1:
            previous = self.root.file(f"round-{k - 1}/model").resolve()
            config.model.backend = f"hf:{previous}"
            config.train.base_model = str(previous)
        if self.config.run.round_seeds == "fresh" and k > 1:
            if not config.seeds.limit:
                raise RunError("run.round_seeds=fresh needs seeds.limit (questions per round)")
            config.seeds.offset += (k - 1) * config.seeds.limit
        return config

    def step(self, run: RunFolder, log: PhaseLog, label: str, phase: str, config: Config,
             action: Callable[[], Any]) -> None:
        digest = inputs_hash(config, phase)
        if log.is_done(label, digest):
            self.console.print(f"[dim]{run.path.name}: {label} already done, skipped[/]")
            return
        self.console.rule(f"[bold]{run.path.name}: {label}")
        started = time.perf_counter()
        action()
        log.mark(label, digest)
        self.timings.setdefault(run.path.name, {})[label] = round(
            time.perf_counter() - started, 1)
        write_json(self.root.file("timings.json"), self.timings)

    def run(self) -> list[dict]:
        self.root.save_config(self.config)
        try:
            for k in range(1, self.config.run.rounds + 1):
                self.run_round(k)
        except StopRounds:
            pass  # the round said why; later rounds would have no model to start from
        finally:
            self.close()
        return self.results()

    def run_round(self, k: int) -> None:
        from .curate import run_curate

        config = self.round_config(k)
        run = RunFolder(self.root.file(f"round-{k}"))
        run.save_config(config)
        log = PhaseLog(run)
        p = self.progress
        model = lambda: self.backend(config.model.backend, config)  # noqa: E731
        judge = lambda: self.backend(config.verify.judge_backend or config.model.backend,  # noqa: E731
                                     config)

        def train() -> None:
            from .train import run_train  # TRL and torch: only once a round gets this far

            run_train(config, run, progress=p)

        self.step(run, log, "sample", "sample", config,
                  lambda: sample_fully(config, run, model(), p))
        self.step(run, log, "verify", "verify", config,
                  lambda: verify_fully(config, run, judge(), p))
        self.step(run, log, "curate", "curate", config,
                  lambda: run_curate(config, run, progress=p))
        trainable = _has_examples(run)
        if trainable:
            self.step(run, log, "train", "train", config, train)
        else:
            self.console.print(
                f"[yellow]{run.path.name}: no candidate survived verification, so there is "
                "nothing to train on; the trained-model rows are skipped. See the judge-quality "
                "table: a judge that rejects everything carries no usable signal.[/]")
        if k == 1:
            self.step(run, log, "evaluate base", "evaluate-base", config,
                      lambda: evaluate_fully(config, run, "base", "single", p, backend=model()))
            if self.config.run.uq_ttc:
                self.step(run, log, "evaluate uq-ttc", "evaluate-uq-ttc", config,
                          lambda: evaluate_fully(config, run, "base", "uq-ttc", p,
                                                 backend=model(), judge_backend=judge()))
        if trainable:
            self.step(run, log, "evaluate trained", "evaluate-trained", config,
                      lambda: evaluate_fully(config, run, "trained", "single", p))
        if self.config.run.no_filter and k == 1:
            self.run_no_filter(run, config)
        run.close()
        if not trainable:
            raise StopRounds

    def run_no_filter(self, verified: RunFolder, config: Config) -> None:
        """The ablation beside the verified set: the same samples trained on unfiltered."""
        from .curate import run_curate
        from .train import run_train

        config = config.model_copy(deep=True)
        config.curate.policy = "no-filter"
        run = RunFolder(verified.file("no-filter"))
        for name in ("questions.jsonl", "candidates.jsonl", "verdicts.jsonl"):
            shutil.copyfile(verified.file(name), run.file(name))
        run.save_config(config)
        log = PhaseLog(run)
        p = self.progress
        self.step(run, log, "curate", "curate", config, lambda: run_curate(config, run, p))
        self.step(run, log, "train", "train", config, lambda: run_train(config, run, p))
        self.step(run, log, "evaluate trained", "evaluate-trained", config,
                  lambda: evaluate_fully(config, run, "trained", "single", p))
        run.close()

    def results(self) -> list[dict]:
        """Comparison rows over all rounds: base and UQ-TTC from round 1, then each round's
        trained model (labelled `round k` when there are several) and the no-filter ablation."""
        from .evaluate.results import comparison_rows

        rows = []
        for k in range(1, self.config.run.rounds + 1):
            folder = self.root.file(f"round-{k}")
            for row in comparison_rows(RunFolder(folder)):
                if row["model"] == "trained":
                    row["model"] = f"round {k}" if self.config.run.rounds > 1 else "trained"
                rows.append(row)
            if (folder / "no-filter").exists():
                for row in comparison_rows(RunFolder(folder / "no-filter")):
                    row["model"] = "no-filter"
                    rows.append(row)
        order = {"base": 0, "no-filter": 2}
        rows.sort(key=lambda r: (str(r["benchmark"]), order.get(r["model"], 1),
                                 r["method"] != "single", str(r["model"])))
        return rows
