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
