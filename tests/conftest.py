"""Shared fixtures. Tests never touch a model hub: HF_HUB_OFFLINE is forced here."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from svdistill.config import Config, load_config  # noqa: E402


@pytest.fixture
def config() -> Config:
    """Defaults on the scripted backend with a handful of built-in seeds."""
    return load_config(None, ["model.backend=scripted", "seeds.limit=6", "sample.n=3"])


def embedded_tokenizer():
    """The embedded model's tokenizer and chat template, from the converted folder if present."""
    from transformers import AutoTokenizer

    from svdistill.backends import embedded

    folder = embedded.cache_dir() / f"{embedded.EMBEDDED_NAME}-hf"
    if (folder / "tokenizer.json").exists():
        return AutoTokenizer.from_pretrained(str(folder))
    try:
        gguf = embedded.embedded_gguf()
    except embedded.ModelFilesMissing as exc:
        pytest.skip(f"embedded model packages not installed: {exc}")
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def save_tiny_model(tokenizer, path):
    """A randomly initialised 2-layer Qwen2 (hidden size 32) with `tokenizer`: a model that
    loads, trains and generates in seconds, for wiring tests (its text is noise)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The tiny random Qwen2 with the embedded model's real tokenizer and chat template."""
    pytest.importorskip("transformers")
    return save_tiny_model(embedded_tokenizer(), tmp_path_factory.mktemp("tiny") / "model")
