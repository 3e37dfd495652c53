"""`model.enable_thinking`: the chat template's switch reaches every engine that renders the
chat, and replies with thinking on, off or left to the template never share a cache key."""

from __future__ import annotations

import pytest

from svdistill.backends import BackendSpecError, make_backend
from svdistill.backends.base import Request, SamplingParams, template_switches
from svdistill.backends.openai_http import request_extra
from svdistill.config import ModelConfig

# A template that shows what it was told, like Qwen3's (which thinks unless told not to).
SWITCHED = ("{% for m in messages %}{{ m['content'] }}{% endfor %}"
            "{% if enable_thinking is defined and not enable_thinking %}"
            "<think>\n\n</think>{% endif %}")


def test_unset_leaves_the_template_alone_and_the_identity_as_it_was():
    assert template_switches(None) == ({}, "")
    assert template_switches(True) == ({"enable_thinking": True}, "+thinking=on")
    assert template_switches(False) == ({"enable_thinking": False}, "+thinking=off")


def test_openai_requests_carry_the_switch_as_chat_template_kwargs():
    params = SamplingParams(top_k=0)
    assert request_extra(params, {}) == {}
    assert request_extra(params, {"enable_thinking": False}) == {
        "chat_template_kwargs": {"enable_thinking": False}}
    assert request_extra(SamplingParams(top_k=20), {"enable_thinking": True}) == {
        "top_k": 20, "chat_template_kwargs": {"enable_thinking": True}}


def test_the_hf_engine_renders_with_the_switch_and_names_it(tiny_model):
    pytest.importorskip("transformers")
    request = Request((("user", "2+2?"),), SamplingParams())
    engines = {}
    for setting in (None, True, False):
        options = ModelConfig(backend=f"hf:{tiny_model}", enable_thinking=setting, dtype="float32")
        engine = make_backend(options.backend, options)
        engine.tokenizer.chat_template = SWITCHED
        engines[setting] = engine
    assert "<think>" not in engines[None].render(request)
    assert "<think>" not in engines[True].render(request)
    assert engines[False].render(request).endswith("<think>\n\n</think>")
    assert len({e.identity for e in engines.values()}) == 3
    assert engines[True].identity == engines[None].identity + "+thinking=on"


def test_llamacpp_engines_refuse_the_switch_rather_than_ignore_it():
    with pytest.raises(BackendSpecError, match="enable_thinking is not supported"):
        make_backend("tiny", ModelConfig(enable_thinking=False))
