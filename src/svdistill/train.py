"""Phase 4: supervised fine-tuning on `RUN/sft/train.jsonl` with TRL's SFTTrainer.

Reads top to bottom: resolve the base model, turn each example into a prompt/completion pair,
configure SFTTrainer (LoRA or full), check the loss mask, train, then export:

- `RUN/model/`: the merged model (safetensors) with the base model's tokenizer and chat template,
  loadable by transformers and servable by vLLM; `RUN/model/adapter/` when LoRA was used;
- `RUN/train/`: `log.jsonl` (one row per logged step: loss, learning rate, grad norm),
  `trainer_state.json`, `checkpoints/` (only with `train.save_steps`) and `stats.json`
  (wall time, peak memory, losses).

Loss is on the assistant response only. Each example goes to TRL as a conversational
prompt/completion pair (prompt = system + user turns, completion = the assistant turn) with
`completion_only_loss`, which sets the labels of everything up to the assistant header to -100.
This works with any chat template; `assistant_only_loss` would need `{% generation %}` markers
that most shipped templates lack. `check_masking` verifies the labels before any step is paid for.

Heavy imports live at the top of this module on purpose: nothing in the core imports it.
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel
from transformers import AutoTokenizer, TrainerCallback
from trl import SFTConfig, SFTTrainer

from .backends.dtypes import torch_dtype
from .backends.hf import load_model
from .backends.spec import BackendSpec
from .config import Config, TrainConfig
from .runfolder import RunFolder
from .store import RunError, atomic_folder, atomic_writer, dumps, read_jsonl
from .summaries import TrainSummary

# transformers 5 renamed gradient_checkpointing (now a deprecated alias); use whichever exists.
CHECKPOINTING = "activation_checkpointing"
if CHECKPOINTING not in SFTConfig.__dataclass_fields__:
    CHECKPOINTING = "gradient_checkpointing"


def resolve_trainable_model(spec: str, base_model: str | None = None) -> Path:
    """The local weights that `model.backend` names, for in-process training.

    `embedded` -> the converted HF folder of the embedded model; `hf:PATH[#file.gguf]` -> PATH;
    `vllm:PATH` -> PATH when it is a local folder; a later round passes `hf:PREVIOUS_RUN/model`.
    Engines whose weights are not ours to load (openai:, llamacpp:, tiny, scripted, hub ids)
    need `train.base_model`, a local HF folder or GGUF file with the same weights.
    """
    if base_model:
        path = Path(base_model)
        if not path.exists():
            raise RunError(f"train.base_model: no model at {path}")
        return path
    backend = BackendSpec.parse(spec)
    if backend.kind == "embedded" and not backend.rest:
        from .backends.embedded import embedded_hf_folder

        return embedded_hf_folder()
    if backend.kind == "hf" and backend.rest:
        path = backend.model_path()
    elif backend.kind == "vllm" and backend.rest and Path(backend.rest).exists():
        path = Path(backend.rest)
    else:
        raise RunError(
            f"model.backend {spec!r} cannot be fine-tuned in-process: set train.base_model to a "
            "local HF folder (or GGUF file) with the same weights. Then evaluate the trained model "
            "as hf:RUN/model, or serve RUN/model with the same engine as the base."
        )
    if not path.exists():
        raise RunError(f"model.backend {spec!r}: no model at {path}")
    return path


def load_tokenizer(base: Path):
    """The base model's tokenizer (and chat template), from an HF folder or a GGUF file."""
    if base.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(str(base.parent), gguf_file=base.name)
    return AutoTokenizer.from_pretrained(str(base))


def load_examples(run: RunFolder) -> list[dict[str, Any]]:
    path = run.file("sft") / "train.jsonl"
    if not path.exists():
        raise RunError(f"{path} is missing: run `svdistill curate` into {run.path} first")
    rows = list(read_jsonl(path))
    if not rows:
        raise RunError(f"{path} has no examples: nothing to train on (see sft/stats.json)")
    return rows


def to_prompt_completion(row: dict[str, Any]) -> dict[str, Any]:
    """Split a chat into what the model is shown (prompt) and what it learns to write."""
    messages = row["messages"]
    if not messages or messages[-1]["role"] != "assistant":
        raise RunError(f"sft example {row.get('id')!r}: the last message must be the assistant's")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def accumulation(t: TrainConfig) -> int:
    """Gradient accumulation steps; `global_batch_size` keeps the effective batch fixed."""
    if t.global_batch_size is None:
        return t.gradient_accumulation_steps
    world = int(os.environ.get("WORLD_SIZE", "1"))  # set by accelerate launch / torchrun
    per_step = t.batch_size * world
    if t.global_batch_size % per_step:
        raise RunError(
            f"train.global_batch_size {t.global_batch_size} is not a multiple of "
            f"batch_size x GPUs = {t.batch_size} x {world}"
        )
    return t.global_batch_size // per_step


def check_masking(dataset: Dataset) -> tuple[int, int]:
    """(response tokens trained, prompt tokens masked). Fails if any example trains on its
    prompt, which would mean the installed TRL stopped applying completion_only_loss.
    Computed in Arrow, so it stays fast on paper-sized sets."""
    labels = dataset.data.column("labels")
    if pc.any(pc.not_equal(pc.list_element(labels, 0), -100)).as_py():
        raise RunError("prompt tokens are not masked out of the loss; check the TRL version")
    flat = pc.list_flatten(labels)
    trained = pc.sum(pc.not_equal(flat, -100)).as_py() or 0
    return trained, len(flat) - trained


class LossLog(TrainerCallback):
    """Appends each logged step to `RUN/train/log.jsonl` (one flushed line per row)."""

    def __init__(self, path: Path):
        self.path = path
        self.started = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()  # elapsed_s counts training, not data preparation

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row = {
            "step": state.global_step,
            "epoch": round(state.epoch or 0.0, 4),
            "elapsed_s": round(time.perf_counter() - self.started, 2),
            **logs,
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(dumps(row) + "\n")


def keep_log_until(path: Path, step: int) -> None:
    """Cut the loss log back to the rows up to `step`, where training resumes (0: a fresh run),
    so the steps a killed run logged after its last checkpoint are not listed twice."""
    if not path.exists():
        return
    rows = [r for r in read_jsonl(path) if step and r.get("step", 0) <= step]
    with atomic_writer(path) as f:
        f.writelines(dumps(r) + "\n" for r in rows)


def export_model(base: Path, final: Path, t: TrainConfig, out: Path) -> Path | None:
    """Write the servable model to `out` (renamed into place when complete); returns the
    adapter folder for LoRA. LoRA is merged on a fresh copy of the base, in its training dtype,
    so the result is a plain model that any engine can load."""
    with atomic_folder(out) as tmp:
        if t.method == "lora":
            model, _ = load_model(base, t.dtype)
            model = PeftModel.from_pretrained(model, str(final)).merge_and_unload()
            model.save_pretrained(str(tmp))
            shutil.copytree(final, tmp / "adapter")
            del model
        else:
            shutil.copytree(final, tmp, dirs_exist_ok=True)
            (tmp / "training_args.bin").unlink(missing_ok=True)
        # The base tokenizer and chat template travel with the model, so the trained model is
        # prompted exactly like the base one.
        load_tokenizer(base).save_pretrained(str(tmp))
    return out / "adapter" if t.method == "lora" else None


def build_trainer(
    t: TrainConfig, base: Path, rows: list[dict[str, Any]], train_dir: Path, progress: bool = True
) -> tuple[SFTTrainer, list[str]]:
    """The configured SFTTrainer with its dataset tokenized and labelled, and the ids of the
    examples dropped for being longer than `max_length`."""
    dataset = Dataset.from_list([to_prompt_completion(r) for r in rows])
    # A GGUF base must be loaded by us (its quantizer removed so it can train and be saved); an
    # HF folder is passed by path, so transformers can load it shard-aware under ZeRO-3 / FSDP.
    dtype = torch_dtype(t.dtype)
    if base.suffix == ".gguf":
        model, tokenizer = load_model(base, t.dtype)
    else:
        model, tokenizer = str(base), load_tokenizer(base)

    on_gpu = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(train_dir / "checkpoints"),
        model_init_kwargs={"dtype": dtype} if isinstance(model, str) else None,
        # data: conversational prompt/completion, loss on the completion only
        completion_only_loss=True,
        assistant_only_loss=False,
        packing=False,
        max_length=None,  # too-long examples are dropped below, not cut (see there)
        # optimisation: AdamW (0.9, 0.999), linear warmup then cosine decay
        optim="adamw_torch",
        adam_beta1=0.9,
        adam_beta2=0.999,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        lr_scheduler_type="cosine",
        warmup_steps=t.warmup_ratio,  # a float below 1 is a share of all steps
        max_grad_norm=t.max_grad_norm,
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=accumulation(t),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        seed=t.seed,
        data_seed=t.seed,
        **{CHECKPOINTING: t.gradient_checkpointing},
        # bf16 autocast only on GPUs; on CPU the weights themselves are bf16 (or fp32)
        bf16=on_gpu and dtype == torch.bfloat16,
        use_cpu=not on_gpu,
        # progress and logs
        logging_steps=t.logging_steps,
        logging_first_step=True,
        disable_tqdm=not progress,
        report_to=t.report_to or "none",
        save_strategy="steps" if t.save_steps else "no",
        save_steps=t.save_steps or 500,
        save_total_limit=2,
    )
    peft_config = None
    if t.method == "lora":
        peft_config = LoraConfig(
            r=t.lora_r,
            lora_alpha=t.lora_alpha,
            lora_dropout=t.lora_dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[LossLog(train_dir / "log.jsonl")],
    )

    # Examples longer than max_length are dropped rather than truncated: a response cut before
    # its end-of-turn token would teach the model to stop mid-answer, or never to stop.
    lengths = pc.list_value_length(trainer.train_dataset.data.column("input_ids")).to_pylist()
    keep = [i for i, n in enumerate(lengths) if n <= t.max_length]
    if not keep:
        raise RunError(f"every example is longer than train.max_length={t.max_length} tokens")
    dropped = [rows[i].get("id", str(i)) for i, n in enumerate(lengths) if n > t.max_length]
    if dropped:
        trainer.train_dataset = trainer.train_dataset.select(keep).flatten_indices()
    return trainer, dropped


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest `checkpoint-N` in `folder` that was saved whole. The Trainer writes
    trainer_state.json after the weights and optimizer, so a checkpoint without it is one a
    kill cut short: resuming from it would fail, so the one before it is used."""
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p)
        for p in folder.glob("checkpoint-*")
        if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
    )
    return str(steps[-1][1]) if steps else None


def run_train(config: Config, run: RunFolder, progress: bool = True) -> TrainSummary:
    """Fine-tune the base model on `RUN/sft/`; see the module docstring for what is written."""
    started = time.perf_counter()
    t = config.train
    base = resolve_trainable_model(config.model.backend, t.base_model)
    summary = TrainSummary(base_model=str(base), method=t.method)
    rows = load_examples(run)
    train_dir = run.file("train")
    train_dir.mkdir(parents=True, exist_ok=True)

    trainer, summary.dropped_too_long = build_trainer(t, base, rows, train_dir, progress)
    summary.examples = len(trainer.train_dataset)
    summary.response_tokens, summary.prompt_tokens_masked = check_masking(trainer.train_dataset)
    summary.trainable_params = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    args = trainer.args
    summary.effective_batch = (
        args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
    )

    train_started = time.perf_counter()
    # A rerun after a crash resumes from the last checkpoint (only written with train.save_steps).
    last = last_complete_checkpoint(Path(args.output_dir))
    if trainer.is_world_process_zero():  # the one writer of the log (see LossLog)
        keep_log_until(train_dir / "log.jsonl", int(last.rsplit("-", 1)[1]) if last else 0)
    result = trainer.train(resume_from_checkpoint=last)
    summary.train_s = time.perf_counter() - train_started

    final = train_dir / "final"
    trainer.save_model(str(final))  # the adapter for LoRA, all weights otherwise (ZeRO/FSDP-aware)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary.steps = trainer.state.global_step
    summary.epochs = round(trainer.state.epoch or 0.0, 4)
    summary.first_loss = losses[0] if losses else None
    summary.last_loss = losses[-1] if losses else None
    summary.train_loss = round(result.training_loss, 6)
    summary.s_per_step = round(summary.train_s / max(summary.steps, 1), 3)
    is_main = trainer.is_world_process_zero()
    if is_main:
        trainer.state.save_to_json(str(train_dir / "trainer_state.json"))
    if torch.cuda.is_available():
        summary.peak_gpu_mib = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    del trainer
    gc.collect()
    if not is_main:
        return summary  # one process writes the model and the stats

    adapter = export_model(base, final, t, run.file("model"))
    summary.model_dir = str(run.file("model"))
    summary.adapter_dir = str(adapter) if adapter else None
    summary.wall_s = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux: the process's peak resident memory, training included.
    summary.peak_rss_mib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    summary.train = t.model_dump()
    summary.write(run.file(TrainSummary.FILE))
    return summary
