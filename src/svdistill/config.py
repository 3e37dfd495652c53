"""Typed settings for every phase, loaded from one YAML file plus `key.sub=value` overrides.

Unknown keys are errors that name the key, so a typo never silently runs the default. The
resolved config is saved into every run folder (`config.yaml`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .store import RunError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    backend: str = Field(
        "embedded",
        description="Engine and model: embedded, tiny, scripted, openai:URL#MODEL, "
        "llamacpp:PATH.gguf, hf:PATH_OR_FOLDER[#file.gguf], vllm:MODEL.",
    )
    batch_size: int = Field(16, ge=1, description="Requests per engine batch (in-process engines).")
    concurrency: int = Field(16, ge=1, description="Requests in flight at once (openai backend).")
    timeout_s: float = Field(600.0, gt=0, description="Per-request timeout (openai backend).")
    max_retries: int = Field(4, ge=0, description="Retries on 5xx, timeouts, connection errors.")
    dtype: Literal["auto", "bfloat16", "float32", "float16"] = Field(
        "auto", description="Weights dtype for the hf engine; auto is bfloat16 on CPU."
    )
    n_ctx: int = Field(4096, ge=256, description="Context length (llama.cpp engine).")
    n_threads: int | None = Field(None, description="CPU threads; default: all cores.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model (vllm engine).")
    system_prompt: str = Field(
        "You are a careful problem solver. Think step by step, then give the final answer.",
        description="System prompt used for sampling (and kept in the training examples).",
    )
    user_template: str = Field(
        "{question}\n\nEnd with the final answer in the form \\boxed{{ANSWER}}.",
        description="User message; {question} is replaced by the seed question.",
    )


class SeedsConfig(Section):
    path: str | None = Field(
        None, description="JSONL, Parquet, CSV or a datasets save_to_disk folder; None = built-in."
    )
    question_field: str = "question"
    id_field: str | None = "id"
    domain_field: str | None = "domain"
    reference_field: str | None = Field(
        "answer", description="Optional reference answer: evaluation may use it, the method never."
    )
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="Malformed rows: stop with an error, or skip and count them."
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N questions.")


class SampleConfig(Section):
    n: int = Field(4, ge=1, description="Candidates per question (paper: 8).")
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(50, ge=0, description="0 disables top-k; 50 keeps CPU sampling fast.")
    max_tokens: int = Field(384, ge=1)
    seed: int = Field(0, description="Sample i of a question uses seed + i.")


class VerifyConfig(Section):
    judge_backend: str | None = Field(None, description="Judge model; None = the sampled model.")
    stages: list[str] = Field(
        default_factory=lambda: ["rules", "cycle", "factual", "correctness"],
        description="Stage order; 'single' is the one-question judge used by the ablation.",
    )
    votes: int = Field(5, ge=1, description="Verification budget v: judge samples per stage.")
    decision: Literal["unanimous", "majority"] = "unanimous"
    mode: Literal["eager", "lazy"] = Field(
        "lazy", description="lazy stops a stage at its first deciding vote; same decisions."
    )
    cycle_variant: Literal["2v", "1+v"] = "2v"
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(50, ge=0)
    max_tokens: int = Field(256, ge=1)
    seed: int = 1000
    prompts: dict[str, str] = Field(
        default_factory=dict, description="Override a stage's prompt template with a file path."
    )


class CurateConfig(Section):
    policy: Literal["first-valid", "all-valid", "no-filter", "single-judge"] = "first-valid"
    decontaminate: list[str] = Field(
        default_factory=list, description="Benchmark files whose questions must not be trained on."
    )
    ngram: int = Field(13, ge=3, description="n-gram size for decontamination.")


class TrainConfig(Section):
    method: Literal["lora", "full"] = "lora"
    epochs: float = 2.0
    max_steps: int = -1
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.04
    max_grad_norm: float = 1.0
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 768
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    seed: int = 0
    report_to: list[str] = Field(default_factory=list)


class EvaluateConfig(Section):
    benchmarks: list[str] = Field(default_factory=list, description="Benchmark files or names.")
    samples: int = Field(4, ge=1, description="Samples per question for pass@1 / pass@k.")
    temperature: float = 0.7
    max_tokens: int = 384
    uq_ttc_candidates: int = Field(8, ge=1)
    seed: int = 2000


class Config(Section):
    model: ModelConfig = Field(default_factory=ModelConfig)
    seeds: SeedsConfig = Field(default_factory=SeedsConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise RunError(f"override {dotted!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """`sample.n=8` -> ("sample.n", 8). Values are read as YAML scalars (numbers, bools, lists)."""
    if "=" not in text:
        raise RunError(f"override {text!r}: expected key.sub=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or defaults when `path` is None) and apply overrides."""
    tree: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RunError(f"{path}: cannot read config ({exc.strerror})") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise RunError(f"{path}{where}: not valid YAML ({exc})") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise RunError(f"{path}: the config must be a mapping of sections")
        tree = loaded or {}
    for item in overrides or []:
        key, value = parse_override(item)
        _set_dotted(tree, key, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise RunError(_describe(exc, source)) from None


def save_config(config: Config, path: Path) -> None:
    from .store import atomic_writer

    with atomic_writer(path) as f:
        yaml.safe_dump(config.model_dump(mode="json"), f, sort_keys=False, allow_unicode=True)
