"""The settings of evaluation on held-out benchmarks and of the whole loop (`svdistill run`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import MAX_COUNT, MAX_SECONDS, MAX_SEED, MAX_TOKENS, Section


class BenchmarkColumns(Section):
    """Where one benchmark table keeps each field (`evaluate.columns.NAME`), for files whose
    column names differ from the defaults."""

    question: str = Field("question", description="Column of the question text.")
    answer: str | None = Field(
        None, description="Column of the gold answer; None = 'target', else 'answer'. For choice "
        "rows: a letter, a 0-based index or the text of one option, or one of the option columns.")
    options: str | list[str] = Field(
        "options", description="Choice rows: one column holding a list, or a list of columns "
        "holding one option each (GPQA: the correct answer and three incorrect ones).")
    tests: str = Field("tests", description="Code rows: column of the test code; stdio rows: "
                       "of the JSON list of {input, output} cases (LiveCodeBench's "
                       "public_test_cases).")
    entry_point: str = Field("entry_point", description="Code rows: column naming the function.")
    id: str | None = Field("id", description="Column of the row id; None or absent = a hash.")
    grader: str = Field("grader", description="Column naming each row's grader, if present.")
    default_grader: Literal["math", "choice", "code", "stdio", "gym"] = Field(
        "math", description="Grader of rows without a grader column.")


class EvaluateConfig(Section):
    benchmarks: list[str] = Field(
        default_factory=lambda: ["arithmetic"],
        description="Benchmark tables (.jsonl, .csv, .parquet, a datasets folder) or built-ins: "
        "arithmetic, science-mc, science-heldout, humaneval, humaneval-heldout, champ, "
        "gym:TASK[,key=value...]; NAME@N uses the first N questions.",
    )
    columns: dict[str, BenchmarkColumns] = Field(
        default_factory=dict,
        description="Column mapping per benchmark table, keyed by its name (file stem or folder "
        "name) or its spec as written, e.g. {aime: {question: problem, answer: answer}}.",
    )
    shuffle_options: bool = Field(
        False, description="Shuffle the options of choice questions per sample (GPQA practice); "
        "the seed and order are recorded in samples.jsonl and the gold letter follows.",
    )
    limit: int | None = Field(None, ge=1, description="Questions per benchmark without an @N.")
    samples: int = Field(4, ge=1, le=MAX_COUNT,
                         description="Samples per question for pass@1 / pass@k.")
    temperature: float = Field(0.7, ge=0, le=100, description="Sampling temperature (paper: 0.7).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling threshold.")
    top_k: int = Field(50, ge=0, le=MAX_TOKENS, description="Top-k; 0 disables it.")
    max_tokens: int = Field(384, ge=1, le=MAX_TOKENS,
                            description="Longest answer; a longer one is truncated.")
    seed: int = Field(2000, ge=0, le=MAX_SEED, description="Sample i of a question uses seed + i.")
    uq_ttc_candidates: int = Field(8, ge=1, le=MAX_COUNT,
                                   description="UQ-TTC: candidates N per question.")
    bootstrap_resamples: int = Field(1000, ge=10, le=1_000_000,
                                     description="Bootstrap resamples for the CI.")
    confidence: float = Field(0.95, gt=0, lt=1, description="Confidence level of the CI.")
    allow_overlap: bool = Field(
        False, description="Report on a benchmark even if it overlaps the run's seed questions."
    )
    ngram: int = Field(13, ge=3, le=1000, description="Word n-gram size of the overlap check.")
    code_timeout_s: float = Field(10.0, gt=0, le=MAX_SECONDS,
                                  description="Per-program limit of code tests.")


class RunConfig(Section):
    """The whole loop (`svdistill run`): rounds and which comparisons to evaluate."""

    rounds: int = Field(1, ge=1, le=MAX_COUNT,
                        description="Loop rounds; round k samples from round k-1's model.")
    round_seeds: Literal["same", "fresh"] = Field(
        "same", description="Each round reuses the seed questions, or takes the next slice "
        "(seeds.offset advances by seeds.limit per round; needs seeds.limit).",
    )
    uq_ttc: bool = Field(True, description="Also evaluate the UQ-TTC baseline on the base model.")
    no_filter: bool = Field(
        False, description="Also train and evaluate the no-filter ablation (samples trained on "
        "without verification) beside the verified set.",
    )
