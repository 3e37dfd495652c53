"""The settings of fine-tuning, with the paper's presets."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from .base import MAX_COUNT, MAX_SEED, MAX_TOKENS, Section


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

