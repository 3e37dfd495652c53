"""Typed settings for every phase, loaded from one YAML file plus `key.sub=value` overrides.

Unknown keys are errors that name the key, so a typo never silently runs the default. The
resolved config is saved into every run folder (`config.yaml`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .registry import CURATE_POLICIES, STAGES
from .store import RunError

#: Bounds no real run reaches, so an absurd value (`sample.n=10**8`, a timeout of 1e300) is an
#: error naming the key when the config loads, not a MemoryError or OverflowError once the model
#: is loaded. Floats must also be finite: NaN and inf are refused everywhere.
MAX_COUNT = 1024  # candidates, votes or samples per question; engine batches; rounds
MAX_TOKENS = 1 << 20  # tokens in one reply or one context
MAX_SECONDS = 86_400.0  # one day, for any timeout
MAX_SEED = 2**31 - 1 - MAX_COUNT  # so seed + i (i < MAX_COUNT) fits every engine's 32-bit seed


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ModelConfig(Section):
    backend: str = Field(
        "embedded",
        description="Engine and model: embedded, tiny, scripted, openai:URL#MODEL, "
        "llamacpp:PATH.gguf, hf:PATH_OR_FOLDER[#file.gguf], vllm:MODEL.",
    )
    batch_size: int = Field(16, ge=1, le=MAX_COUNT,
                            description="Requests per engine batch (in-process engines).")
    concurrency: int = Field(16, ge=1, le=MAX_COUNT,
                             description="Requests in flight at once (openai backend).")
    timeout_s: float = Field(600.0, gt=0, le=MAX_SECONDS,
                             description="Per-request timeout (openai backend).")
    max_retries: int = Field(4, ge=0, le=100,
                             description="Retries on 5xx, timeouts, connection errors.")
    dtype: Literal["auto", "bfloat16", "float32", "float16"] = Field(
        "auto", description="Weights dtype for the hf engine; auto is bfloat16 on CPU."
    )
    n_ctx: int = Field(4096, ge=256, le=MAX_TOKENS,
                       description="Context length (llama.cpp engine).")
    n_threads: int | None = Field(None, le=MAX_COUNT,
                                  description="CPU threads; default: all cores.")
    tensor_parallel_size: int = Field(1, ge=1, le=MAX_COUNT,
                                      description="GPUs per model (vllm engine).")
    enable_thinking: bool | None = Field(
        None,
        description="The chat template's thinking switch (Qwen3 and similar), passed to every "
        "engine that renders the chat (hf, vllm; openai servers as chat_template_kwargs); None "
        "= the template's own default. Not supported by the llama.cpp engines.",
    )
    system_prompt: str = Field(
        "You are a careful problem solver. Think step by step, then give the final answer.",
        description="System prompt used for sampling (and kept in the training examples).",
    )
    user_template: str = Field(
        "{question}\n\nEnd with the final answer in the form \\boxed{ANSWER}.",
        description="User message; {question} is replaced by the seed question.",
    )

    @field_validator("user_template")
    @classmethod
    def _one_placeholder(cls, text: str) -> str:
        from .verify.prompts import placeholder_problems  # verify imports this module

        if "{question}" not in text:
            raise ValueError("lacks the placeholder {question}: the question would never reach "
                             "the model")
        if problems := placeholder_problems("user_template", text, ("question",)):
            raise ValueError("; ".join(problems))
        return text


class SeedsConfig(Section):
    path: str | None = Field(
        None, description="JSONL, Parquet, CSV or a datasets save_to_disk folder, or a packaged "
        "set: arithmetic, science, humaneval-seeds; None = arithmetic."
    )
    question_field: str = Field("question", description="Field holding the question text.")
    id_field: str | None = Field(
        "id", description="Field holding a question id; rows without one get a hash of the text.")
    domain_field: str | None = Field(
        "domain", description="Field naming the domain (math, arithmetic, code, ...), if any.")
    reference_field: str | None = Field(
        "answer", description="Optional reference answer: evaluation may use it, the method never."
    )
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="Malformed rows: stop with an error, or skip and count them."
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N questions.")
    offset: int = Field(0, ge=0, description="Skip the first N distinct questions.")


class SampleConfig(Section):
    n: int = Field(4, ge=1, le=MAX_COUNT, description="Candidates per question (paper: 8).")
    temperature: float = Field(0.7, ge=0, le=100, description="Sampling temperature (paper: 0.7).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling threshold.")
    top_k: int = Field(50, ge=0, le=MAX_TOKENS,
                       description="0 disables top-k; 50 keeps CPU sampling fast.")
    max_tokens: int = Field(384, ge=1, le=MAX_TOKENS,
                            description="Longest reply; a longer one is truncated.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Sample i of a question uses seed + i.")


class VerifyConfig(Section):
    judge_backend: str | None = Field(None, description="Judge model; None = the sampled model.")
    stages: list[str] = Field(
        default_factory=lambda: ["rules", "cycle", "factual", "correctness"],
        description="Stage order, from rules, cycle, factual, correctness, single ('single' is "
        "the one-question judge of the ablation), and the opt-in solve, claims, single_alt "
        "(for tiny judges; docs/judge_signal.md). A candidate failing a stage skips the rest.",
    )
    votes: int = Field(5, ge=1, le=MAX_COUNT,
                       description="Verification budget v: judge samples per stage.")
    decision: Literal["unanimous", "majority"] = Field(
        "unanimous", description="unanimous: all v votes yes; majority: over v/2 (a tie rejects)."
    )
    mode: Literal["eager", "lazy"] = Field(
        "lazy", description="lazy stops a stage at its first deciding vote; same decisions."
    )
    cycle_variant: Literal["2v", "1+v"] = Field(
        "2v", description="2v: v inferred questions, each compared once; 1+v: one inferred "
        "question compared v times."
    )
    cycle_compare: Literal["plain", "uq"] = Field(
        "plain", description="plain: the comparison shows the two questions (the paper's); uq: "
        "it also shows the answer and asks whether the answer addresses the question (UQ's "
        "validator). Template cycle_compare or cycle_compare_uq."
    )
    temperature: float = Field(0.6, ge=0, le=100,
                               description="Sampling temperature of the judge's votes.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling threshold of the votes.")
    top_k: int = Field(50, ge=0, le=MAX_TOKENS, description="Top-k of the votes; 0 disables it.")
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS,
        description="Longest judge reply; None = sample.max_tokens, so a thinking judge gets "
        "the budget its own sampling had. A reply cut off here is counted as truncated, not as "
        "a vote.",
    )
    seed: int = Field(1000, ge=0, le=MAX_SEED,
                      description="Vote i of a stage uses seed + i, in both modes.")
    solve_max_tokens: int | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS,
        description="Token budget of the solve stage's own solution; None = the judge's budget "
        "(verify.max_tokens, else sample.max_tokens). Give it "
        "what sampling had (sample.max_tokens): a cut-off solution has no final answer.",
    )
    claims_max: int = Field(
        8, ge=1, le=MAX_COUNT,
        description="claims stage: at most this many arithmetic statements per answer."
    )
    prompts: dict[str, str] = Field(
        default_factory=dict,
        description="Override prompt templates with files: cycle_infer, cycle_compare, "
        "cycle_compare_uq, factual, correctness, single, solve, claim, single_alt_yes_last, "
        "single_alt_no_last -> path. Placeholders: {question}, {answer}, {inferred}, {claim}.",
    )


class CurateConfig(Section):
    policy: str = Field(
        "first-valid",
        description="One of svdistill.registry.CURATE_POLICIES. first-valid: first accepted candidate per question (paper); all-valid: "
        "every accepted one; no-filter: every candidate, unverified (paper's ablation); "
        "no-filter-first: sample 0 of each question, unverified; single-judge: first-valid "
        "over verdicts of a verify.stages=[rules, single] run.",
    )
    decontaminate: list[str] = Field(
        default_factory=list,
        description="Benchmark JSONL files (a 'question' field) whose questions must not be "
        "trained on.",
    )
    ngram: int = Field(
        13, ge=3, le=1000,
        description="Word n-gram size: a question sharing one with a benchmark is dropped"
    )
    max_examples: int | None = Field(
        None, ge=1, le=MAX_COUNT,
        description="Keep at most N examples: a random subset (fixed seed), the rest dropped as "
        "over_max_examples. For ablations at equal training-set size; None keeps all.",
    )


    @field_validator("policy")
    @classmethod
    def _known_policy(cls, policy: str) -> str:
        if policy not in CURATE_POLICIES:
            raise ValueError(f"Input should be {CURATE_POLICIES.expected()}")
        return policy

class TrainConfig(Section):
    """Fine-tuning settings. `preset` fills in the paper's settings for a model size (files in
    configs/train_presets/) when the config is loaded; any key given explicitly in the config or
    on the command line wins. Assigning `preset` later in code changes nothing else."""

    preset: str | None = Field(
        None, description="paper-0.6b, paper-4b, paper-8b or cpu-smoke; explicit keys override it."
    )
    base_model: str | None = Field(
        None,
        description="Local HF folder or GGUF file to train; default: resolved from model.backend "
        "(embedded, hf:PATH, vllm:LOCAL_PATH). Needed for openai: and llamacpp: engines.",
    )
    method: Literal["lora", "full"] = Field("lora", description="LoRA adapters (merged on save) "
                                            "or full fine-tuning (the paper's).")
    dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto", description="Weights dtype; auto = bfloat16 (40% less memory than float32 on CPU)."
    )
    epochs: float = Field(2.0, gt=0, le=10_000,
                          description="Passes over the set; ignored when max_steps > 0.")
    max_steps: int = Field(-1, ge=-1, le=10**9, description="Optimizer steps; -1 = use epochs.")
    learning_rate: float = Field(1e-4, gt=0, le=10,
                                 description="Peak learning rate (AdamW, cosine).")
    weight_decay: float = Field(0.01, ge=0, le=100, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.04, ge=0, lt=1, description="Linear warmup share of all steps; "
                                "then cosine decay.")
    max_grad_norm: float = Field(1.0, gt=0, le=1e6, description="Gradient clipping.")
    batch_size: int = Field(8, ge=1, le=MAX_COUNT * 64,
                            description="Examples per device per micro-step.")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=MAX_COUNT * 64, description="Micro-batches per optimizer step (per device).")
    global_batch_size: int | None = Field(
        None, ge=1, le=MAX_COUNT * 1024,
        description="If set, accumulation = global / (batch_size x GPUs), so a preset "
        "keeps its effective batch on any number of GPUs.",
    )
    max_length: int = Field(
        768, ge=16, le=MAX_TOKENS,
        description="Longer examples (prompt + response tokens) are dropped, not cut."
    )
    gradient_checkpointing: bool = Field(True, description="Less memory, about 30% more compute.")
    lora_r: int = Field(16, ge=1, le=MAX_COUNT * 64, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, le=MAX_COUNT * 1024,
                            description="LoRA scaling numerator (scale = alpha / r).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA branch.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seed of initialisation and data order.")
    logging_steps: int = Field(1, ge=1, le=10**9, description="Log loss every N optimizer steps.")
    save_steps: int = Field(0, ge=0, le=10**9,
                            description="Checkpoint every N steps (0 = only at the end); "
                            "a rerun resumes from the last checkpoint in RUN/train/checkpoints.")
    report_to: list[str] = Field(
        default_factory=list, description="Trackers passed to transformers (wandb, tensorboard...)."
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset"):
            return {**TrainConfig.load_preset(data["preset"]), **data}
        return data

    @staticmethod
    def load_preset(name: str) -> dict[str, Any]:
        """A packaged preset's `train` keys (configs/train_presets/NAME.yaml)."""
        from importlib import resources

        folder = Path(str(resources.files("svdistill") / "configs" / "train_presets"))
        path = folder / f"{name}.yaml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
            raise ValueError(f"no train preset {name!r}; known: {known}")
        return yaml.safe_load(path.read_text(encoding="utf-8"))["train"]


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


class Config(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    seeds: SeedsConfig = Field(default_factory=SeedsConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    @property
    def judge_max_tokens(self) -> int:
        """The judge's token budget, resolved here only: verify.max_tokens when set, else
        sample.max_tokens (a thinking judge cut off inside <think> casts no vote)."""
        return self.verify.max_tokens or self.sample.max_tokens


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RunError(f"override {dotted!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def _annotation(dotted: str) -> Any:
    """The type annotation of the config field `dotted` names, or None if it names none."""
    model: Any = Config
    annotation: Any = None
    for part in dotted.split("."):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = annotation = field.annotation
    return annotation


def _takes_text(annotation: Any) -> bool:
    """True for `str` and `str | None`, not for `list[str]` or `dict[str, str]`."""
    if get_origin(annotation) in (Union, UnionType):
        return str in get_args(annotation)
    return annotation is str


def parse_override(text: str) -> tuple[str, Any]:
    """`sample.n=8` -> ("sample.n", 8). Values are read as YAML scalars (numbers, bools, lists),
    except that a text field takes an unquoted value as written: `model.backend=openai:` or
    `model.system_prompt=Be brief #1` must not turn into a YAML mapping, a bool or a comment."""
    if "=" not in text:
        raise RunError(f"override {text!r}: expected key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise RunError(f"override {text!r}: the key before '=' is empty or has an empty part")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if value is not None and _takes_text(_annotation(key)) and not raw.lstrip().startswith(
        ("'", '"')
    ):
        value = raw.strip()
    elif isinstance(value, dict) and not raw.lstrip().startswith("{"):
        value = raw.strip()  # `a: b` on a command line is text; a mapping is written `{a: b}`
    return key, value


#: More values than this, once YAML aliases are expanded, is refused: a config holds a few hundred,
#: and a handful of nested aliases ("billion laughs") expands to billions that every later step
#: (validation, error messages) would walk one by one.
MAX_YAML_VALUES = 100_000


def _check_nodes(root: yaml.Node) -> None:
    """Refuse a duplicate mapping key (YAML would keep the last value silently) and a document
    whose aliases expand past MAX_YAML_VALUES. Each node is visited once, so a bomb costs only
    the size of its text."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, prefix: str) -> int:
        if id(node) in sizes:
            if sizes[id(node)] < 0:
                raise yaml.MarkedYAMLError(problem="an alias refers to a value that holds it",
                                           problem_mark=node.start_mark)
            return sizes[id(node)]  # an alias: the same node again
        sizes[id(node)] = -1
        total = 1
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else None
                if name is not None and name != "<<" and name in first:
                    line = first[name].start_mark.line + 1
                    raise yaml.MarkedYAMLError(
                        problem=f"duplicate key {prefix + name!r}, first at line {line}; YAML "
                        "would keep the last value silently",
                        problem_mark=key.start_mark,
                    )
                if name is not None:
                    first[name] = key
                total += size(key, prefix) + size(value, f"{prefix}{name}.")
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(child, prefix) for child in node.value)
        if total > MAX_YAML_VALUES:
            raise yaml.MarkedYAMLError(
                problem=f"the aliases here expand to more than {MAX_YAML_VALUES:,} values",
                problem_mark=node.start_mark,
            )
        sizes[id(node)] = total
        return total

    size(root, "")


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing duplicate keys and alias bombs (see `_check_nodes`)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except RecursionError:
        raise yaml.YAMLError("nested too deeply") from None
    finally:
        loader.dispose()


def _yaml_lines(text: str) -> dict[str, int]:
    """dotted key -> 1-based line of that key in a YAML mapping text (best effort)."""
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    dotted = f"{prefix}{key.value}"
                    lines[dotted] = key.start_mark.line + 1
                    walk(value, dotted + ".")

    try:
        walk(yaml.compose(text), "")
    except yaml.YAMLError:
        pass
    return lines


def _problem(
    where: str, message: str, value: Any, source: str, lines: dict[str, int],
    overrides: dict[str, str],
) -> str:
    """`  key: what is wrong (got VALUE; where it was given)`: the config file's line, or the
    command-line override."""
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    details = [] if isinstance(value, dict) else [f"got {shown}"]
    given = [t for k, t in overrides.items()
             if k == where or k.startswith(where + ".") or where.startswith(k + ".")]
    if given:
        details.append("from the override " + ", ".join(repr(t) for t in given))
    else:
        keys = [k for k in lines if k == where or where.startswith(k + ".")]
        if keys:
            details.append(f"{source} line {lines[max(keys, key=len)]}")
    return f"  {where}: {message}" + (f" ({'; '.join(details)})" if details else "")


def _describe(
    error: ValidationError, source: str, lines: dict[str, int], overrides: dict[str, str]
) -> str:
    out = [f"{source}: invalid config"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        else:
            message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "list_type":
            message += " (write a list as key=[a, b])"
        out.append(_problem(where, message, item.get("input"), source, lines, overrides))
    return "\n".join(out)


def _stages_problem(stages: list[str]) -> str | None:
    """What is wrong with verify.stages, checked when the config loads so that `svdistill run`
    stops before it pays for the samples, not after."""
    if problem := STAGES.unknown(stages):
        return problem
    if not stages:
        return "no stage: name at least one (curate.policy=no-filter trains unverified samples)"
    if len(set(stages)) != len(stages):
        return "a stage is listed twice"
    return None


def _prompt_problems(prompts: dict[str, str]) -> dict[str, str]:
    """verify.prompts key -> what is wrong with it (an unknown template name, a file that cannot
    be read, a placeholder that is missing or unknown), checked when the config loads."""
    from .verify.prompts import REQUIRED, SOLVER, load_template, unknown_prompts

    problems = {}
    for name in unknown_prompts(prompts):
        close = difflib.get_close_matches(name, [*REQUIRED, *SOLVER], n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        problems[name] = f"unknown prompt ({hint}known: {', '.join([*REQUIRED, *SOLVER])})"
    for name, file in prompts.items():
        if name not in problems:
            try:
                load_template(name, file)
            except RunError as exc:
                problems[name] = str(exc).removeprefix(f"verify.prompts.{name}: ")
    return problems


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or defaults when `path` is None) and apply overrides."""
    tree: dict[str, Any] = {}
    source = "defaults"
    lines: dict[str, int] = {}
    if path is not None:
        source = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RunError(f"{path}: cannot read config ({exc.strerror})") from exc
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise RunError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None
        try:
            loaded = load_yaml(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            column = f", column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context and start and mark and start.line != mark.line:  # the unclosed bracket
                column += f"; {context} that starts at line {start.line + 1}"
            raise RunError(f"{path}{where}: not valid YAML ({problem}{column})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise RunError(f"{path}: the config must be a mapping of sections, "
                           f"not a {type(loaded).__name__}")
        tree = loaded or {}
        lines = _yaml_lines(text)
    given: dict[str, str] = {}
    for item in overrides or []:
        key, value = parse_override(item)
        _set_dotted(tree, key, value)
        given[key] = item
    try:
        config = Config.model_validate(tree)
    except ValidationError as exc:
        raise RunError(_describe(exc, source, lines, given)) from None
    if problem := _stages_problem(config.verify.stages):
        where = _problem("verify.stages", problem, config.verify.stages, source, lines, given)
        raise RunError(f"{source}: invalid config\n{where}")
    if problems := _prompt_problems(config.verify.prompts):
        where = [_problem(f"verify.prompts.{name}", problem, config.verify.prompts[name], source,
                          lines, given) for name, problem in problems.items()]
        raise RunError(f"{source}: invalid config\n" + "\n".join(where))
    return config


def save_config(config: Config, path: Path) -> None:
    from .store import atomic_writer

    with atomic_writer(path) as f:
        yaml.safe_dump(config.model_dump(mode="json"), f, sort_keys=False, allow_unicode=True)
