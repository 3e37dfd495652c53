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

import shutil
from pathlib import Path

from rich.console import Console

from .backends.spec import BackendSpec
from .config import Config
from .phases import (
    Engines,
    Executor,
    Phase,
    curate_phase,
    evaluate_phase,
    sample_phase,
    train_phase,
    verify_phase,
)
from .runfolder import RunFolder
from .store import RunError


class StopRounds(Exception):
    """A round produced no trained model, so later rounds cannot start."""


def has_examples(run: RunFolder) -> bool:
    path = run.file("sft/train.jsonl")
    with open(path, "rb") as f:
        return any(line.strip() for line in f)


class Pipeline:
    """`svdistill run`: the rounds of the loop, each phase through one Executor."""

    def __init__(self, config: Config, out: Path, progress: bool = True,
                 console: Console | None = None, engines: Engines | None = None):
        self.config = config
        self.root = RunFolder(out)
        self.progress = progress
        self.console = console or Console(stderr=True)
        self.executor = Executor(self.root.file("timings.json"), self.console)
        self.engines = engines or Engines(self.console)

    @property
    def timings(self) -> dict[str, dict[str, float]]:
        return self.executor.timings

    def close(self) -> None:
        self.engines.close()

    # -- the loop -------------------------------------------------------------------------------

    def round_config(self, k: int) -> Config:
        """Round k's config: round 1 is the config itself; later rounds start from the last
        round's model and, with round_seeds=fresh, the next slice of seed questions."""
        config = self.config.model_copy(deep=True)
        if k > 1:
            previous = self.root.file(f"round-{k - 1}/model").resolve()
            config.model.backend = BackendSpec.parse(config.model.backend).with_weights(previous)
            config.train.base_model = str(previous)
        if self.config.run.round_seeds == "fresh" and k > 1:
            if not config.seeds.limit:
                raise RunError("run.round_seeds=fresh needs seeds.limit (questions per round)")
            config.seeds.offset += (k - 1) * config.seeds.limit
        return config

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
        config = self.round_config(k)
        run = RunFolder(self.root.file(f"round-{k}"))
        run.save_config(config)
        p, engines = self.progress, self.engines

        def go(phase: Phase) -> None:
            self.executor.run(run, phase, config)

        go(sample_phase(config, run, engines, p))
        go(verify_phase(config, run, engines, p))
        if k == 1:
            go(evaluate_phase(config, run, engines, p, "base"))
            if self.config.run.uq_ttc:
                go(evaluate_phase(config, run, engines, p, "base", "uq-ttc"))
        # Everything the round's own engines do is done: their memory (a GPU's, under vLLM)
        # goes to training, and the next round loads the model this one trains.
        engines.release()
        go(curate_phase(config, run, p))
        trainable = has_examples(run)
        if trainable:
            go(train_phase(config, run, p))
        else:
            self.console.print(
                f"[yellow]{run.path.name}: no candidate survived verification, so there is "
                "nothing to train on; the trained-model rows are skipped. See the judge-quality "
                "table: a judge that rejects everything carries no usable signal.[/]")
        if trainable:
            go(evaluate_phase(config, run, None, p, "trained"))
        if self.config.run.no_filter and k == 1:
            self.run_no_filter(run, config)
        run.close()
        if not trainable:
            raise StopRounds

    def run_no_filter(self, verified: RunFolder, config: Config) -> None:
        """The ablation beside the verified set: the same samples trained on unfiltered."""
        config = config.model_copy(deep=True)
        config.curate.policy = "no-filter"
        run = RunFolder(verified.file("no-filter"))
        for name in ("questions.jsonl", "candidates.jsonl", "verdicts.jsonl"):
            shutil.copyfile(verified.file(name), run.file(name))
        run.save_config(config)
        p = self.progress
        for phase in (curate_phase(config, run, p), train_phase(config, run, p),
                      evaluate_phase(config, run, None, p, "trained")):
            self.executor.run(run, phase, config)
        run.close()

    def results(self) -> list[dict]:
        """Comparison rows over all rounds: base and UQ-TTC from round 1, then each round's
        trained model (labelled `round k` when there are several) and the no-filter ablation."""
        from .evaluate.results import comparison_rows, sort_rows

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
        return sort_rows(rows)
