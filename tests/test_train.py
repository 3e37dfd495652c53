"""Training on a tiny random Qwen2 model (hidden size 32, a small BPE tokenizer): seconds, not
minutes. The loss-mask test also runs with the embedded model's real tokenizer and chat template.

What these show: the loss mask covers exactly the assistant response, training moves the
weights (and lowers the loss), and the exported model reloads and generates through the same
engine evaluation uses. They say nothing about whether training makes a model better.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

import torch  # noqa: E402
from conftest import embedded_tokenizer, save_tiny_model  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from svdistill.config import Config, TrainConfig, load_config  # noqa: E402
from svdistill.runfolder import RunFolder  # noqa: E402
from svdistill.store import RunError, read_jsonl, write_jsonl  # noqa: E402
from svdistill.train import (  # noqa: E402
    accumulation,
    build_trainer,
    resolve_trainable_model,
    run_train,
)

SYSTEM = "You are a careful problem solver."
CHATML = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def small_tokenizer():
    """A byte-level BPE with a few hundred tokens and a ChatML template. The real 152k-token
    tokenizer costs seconds per dataset map (datasets pickles it to fingerprint the map)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator([SYSTEM, "What is 3 plus 3? 3 plus 3 is 6. \\boxed{6}"], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML,
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_model(small_tokenizer(), tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def tiny_qwen_model(tmp_path_factory) -> Path:
    """The same tiny model with the embedded Qwen2.5 tokenizer and its real chat template."""
    return save_tiny_model(embedded_tokenizer(), tmp_path_factory.mktemp("tinyqwen") / "model")


def sft_rows(n: int = 6) -> list[dict]:
    rows = []
    for i in range(n):
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"What is {i} plus {i}?"},
            {"role": "assistant", "content": f"{i} plus {i} is {2 * i}. \\boxed{{{2 * i}}}"},
        ]
        rows.append({"id": f"q{i}#0", "messages": messages})
    return rows


def make_run(path: Path, rows: list[dict]) -> RunFolder:
    run = RunFolder(path)
    write_jsonl(path / "sft" / "train.jsonl", rows)
    return run


def tiny_config(model: Path, *overrides: str) -> Config:
    return load_config(
        None,
        [
            f"model.backend=hf:{model}",
            "train.max_steps=6",
            "train.batch_size=3",
            "train.learning_rate=0.01",
            "train.warmup_ratio=0",
            "train.dtype=float32",
            "train.gradient_checkpointing=false",
            "train.max_length=256",
            *overrides,
        ],
    )


@pytest.mark.parametrize("model", ["tiny_model", "tiny_qwen_model"])
def test_prompt_tokens_are_masked_in_the_collated_batch(model, request, tmp_path):
    path = request.getfixturevalue(model)
    rows = sft_rows(2)
    rows[1]["messages"][-1]["content"] += " A longer answer, so the batch needs padding."
    trainer, dropped = build_trainer(tiny_config(path).train, path, rows, tmp_path, progress=False)
    assert dropped == []
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    for row, input_ids, labels in zip(rows, batch["input_ids"], batch["labels"], strict=True):
        prompt = tokenizer.apply_chat_template(
            row["messages"][:-1], add_generation_prompt=True, tokenize=False
        )
        prompt_len = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert (labels[:prompt_len] == -100).all()  # system, user and the assistant header
        trained = labels[labels != -100]
        # exactly the response and its end-of-turn token (the template's trailing newline too)
        assert tokenizer.decode(trained) == row["messages"][-1]["content"] + "<|im_end|>\n"
        assert (input_ids[prompt_len : prompt_len + len(trained)] == trained).all()


def test_too_long_examples_are_dropped_not_cut(tiny_model, tmp_path):
    rows = sft_rows(3)
    rows[1]["messages"][-1]["content"] = "long " * 300
    trainer, dropped = build_trainer(
        tiny_config(tiny_model).train, tiny_model, rows, tmp_path, progress=False
    )
    assert dropped == ["q1#0"] and len(trainer.train_dataset) == 2


@pytest.mark.parametrize("method", ["lora", "full"])
def test_tiny_training_changes_weights_and_the_merged_model_generates(tiny_model, tmp_path, method):
    config = tiny_config(tiny_model, f"train.method={method}")
    run = make_run(tmp_path, sft_rows())
    summary = run_train(config, run, progress=False)

    model_dir = tmp_path / "model"
    assert summary.steps == 6 and summary.model_dir == str(model_dir)
    assert summary.last_loss < summary.first_loss
    before = load_file(str(tiny_model / "model.safetensors"))
    after = load_file(str(model_dir / "model.safetensors"))
    assert set(after) == set(before)  # a plain model: no LoRA or PEFT prefixes left
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(before[name], after[name])
    assert (model_dir / "chat_template.jinja").exists() or "chat_template" in json.loads(
        (model_dir / "tokenizer_config.json").read_text()
    )
    assert (model_dir / "adapter" / "adapter_config.json").exists() == (method == "lora")

    log = list(read_jsonl(tmp_path / "train" / "log.jsonl"))
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5, 6]
    stats = json.loads((tmp_path / "train" / "stats.json").read_text())
    assert stats["peak_rss_mib"] > 0 and stats["wall_s"] > 0 and stats["train"]["method"] == method
    assert (tmp_path / "train" / "trainer_state.json").exists()

    from svdistill.backends.base import Request, SamplingParams
    from svdistill.backends.hf import HFBackend

    backend = HFBackend(model_dir, batch_size=2, dtype="float32")
    request = Request.chat(sft_rows(1)[0]["messages"][:-1], SamplingParams(0.0, 1.0, 0, 8, 0))
    [completion] = backend.generate([request])
    assert completion.finish_reason in ("stop", "length") and completion.completion_tokens > 0


def test_resolve_trainable_model(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    (tmp_path / "m.gguf").write_bytes(b"")
    assert resolve_trainable_model(f"hf:{folder}") == folder
    assert resolve_trainable_model(f"hf:{tmp_path}#m.gguf") == tmp_path / "m.gguf"
    assert resolve_trainable_model(f"vllm:{folder}") == folder
    assert resolve_trainable_model("openai:http://x/v1#m", base_model=str(folder)) == folder
    from svdistill.backends import embedded

    monkeypatch.setattr(embedded, "embedded_hf_folder", lambda: folder)
    assert resolve_trainable_model("embedded") == folder
    for spec in (
        "openai:http://localhost:8000/v1#m",
        f"llamacpp:{tmp_path / 'm.gguf'}",
        "scripted",
        "tiny",
        "vllm:Qwen/Qwen3-4B",
    ):
        with pytest.raises(RunError, match="train.base_model"):
            resolve_trainable_model(spec)
    with pytest.raises(RunError, match="no model"):
        resolve_trainable_model(f"hf:{tmp_path / 'missing'}")


def test_presets_fill_in_the_paper_settings_and_explicit_keys_win():
    config = load_config(None, ["train.preset=paper-4b", "train.max_steps=10"])
    t = config.train
    assert (t.method, t.learning_rate, t.weight_decay, t.max_grad_norm) == ("full", 2e-5, 0.0, 0.2)
    assert (t.global_batch_size, t.max_steps) == (64, 10)
    assert load_config(None, ["train.preset=paper-8b"]).train.learning_rate == 5e-6
    assert load_config(None, ["train.preset=paper-0.6b"]).train.max_steps == 2000
    with pytest.raises(RunError, match="no train preset"):
        load_config(None, ["train.preset=paper-70b"])


def test_global_batch_size_sets_accumulation(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert accumulation(TrainConfig(batch_size=2, global_batch_size=64)) == 8
    assert accumulation(TrainConfig(batch_size=2, gradient_accumulation_steps=3)) == 3
    with pytest.raises(RunError, match="multiple"):
        accumulation(TrainConfig(batch_size=3, global_batch_size=64))


def test_train_command_needs_a_curated_set(tmp_path):
    from typer.testing import CliRunner

    from svdistill.cli import app

    result = CliRunner().invoke(app, ["train", "quick", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "svdistill curate" in result.output


@pytest.mark.heavy
def test_embedded_model_lora_few_steps(tmp_path):
    """The real 0.5B model on CPU: a few LoRA steps, then the merged model generates."""
    from svdistill.backends.base import Request, SamplingParams
    from svdistill.backends.hf import HFBackend

    config = load_config(
        None,
        [
            "model.backend=embedded",
            "train.preset=cpu-smoke",
            "train.max_steps=3",
            "train.batch_size=2",
        ],
    )
    run = make_run(tmp_path, sft_rows(6))
    summary = run_train(config, run, progress=False)
    assert summary.steps == 3 and summary.adapter_dir
    backend = HFBackend(tmp_path / "model", batch_size=1)
    request = Request.chat(sft_rows(1)[0]["messages"][:-1], SamplingParams(0.0, 1.0, 0, 16, 0))
    assert backend.generate([request])[0].text.strip()


def test_resume_skips_a_checkpoint_cut_short_by_a_kill(tmp_path):
    from svdistill.train import last_complete_checkpoint

    assert last_complete_checkpoint(tmp_path / "missing") is None
    for step, whole in ((2, True), (9, True), (10, True), (12, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
        if whole:  # the Trainer writes its state last
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")  # not 12, not 9


def test_resumed_training_does_not_log_a_step_twice(tmp_path):
    from svdistill.train import keep_log_until

    log = tmp_path / "log.jsonl"
    write_jsonl(log, [{"step": s, "loss": 1.0 / s} for s in (1, 2, 3, 4, 5)])
    keep_log_until(log, 3)  # resuming from checkpoint-3: steps 4 and 5 will be logged again
    assert [r["step"] for r in read_jsonl(log)] == [1, 2, 3]
    keep_log_until(log, 0)  # a fresh run
    assert list(read_jsonl(log)) == []
