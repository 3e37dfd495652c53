import subprocess
import sys
from pathlib import Path

import pytest

from svdistill.backends import BackendSpec, BackendSpecError, make_backend
from svdistill.backends.base import Request, SamplingParams, call_key
from svdistill.config import load_config
from svdistill.registry import BACKENDS
from svdistill.store import RunError


@pytest.mark.parametrize(
    "spec, error",
    [
        ("nonsense", BackendSpecError),
        ("openai:localhost:8000", BackendSpecError),
        ("openai:ftp://x#m", BackendSpecError),
        ("scripted:speed=3", BackendSpecError),
        ("llamacpp:/no/such/model.gguf", FileNotFoundError),
        ("hf:/no/such/folder", FileNotFoundError),
    ],
)
def test_bad_backend_strings_are_clear_errors(spec, error):
    with pytest.raises(error, match="backend"):
        make_backend(spec)


def test_call_key_changes_with_anything_that_changes_the_reply():
    base = Request.chat([{"role": "user", "content": "hi"}], SamplingParams(seed=1))
    variants = [
        Request.chat([{"role": "user", "content": "hi!"}], SamplingParams(seed=1)),
        Request.chat([{"role": "user", "content": "hi"}], SamplingParams(seed=2)),
        Request.chat([{"role": "user", "content": "hi"}], SamplingParams(seed=1, top_p=0.9)),
    ]
    keys = {call_key("engine-a", base), call_key("engine-b", base)}
    keys |= {call_key("engine-a", v) for v in variants}
    assert len(keys) == 5
    assert call_key("engine-a", base) == call_key("engine-a", base)


def test_core_imports_without_heavy_packages():
    # Block torch, transformers, vllm and llama_cpp: the core and the CLI must still import.
    code = (
        "import sys\n"
        "for name in ('torch', 'transformers', 'vllm', 'llama_cpp', 'trl', 'peft'):\n"
        "    sys.modules[name] = None\n"
        "import svdistill.cli, svdistill.sample, svdistill.seeds, svdistill.backends\n"
        "from svdistill.backends import make_backend\n"
        "make_backend('scripted')\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_a_backend_string_is_split_once_into_kind_target_and_fragment():
    spec = BackendSpec.parse("openai:http://a:1/v1,http://b:2/v1#Qwen/Qwen3-4B")
    assert (spec.kind, spec.target, spec.fragment) == (
        "openai", "http://a:1/v1,http://b:2/v1", "Qwen/Qwen3-4B")
    assert BackendSpec.parse("hf:models/q#q8.gguf").model_path() == Path("models/q/q8.gguf")
    assert BackendSpec.parse("hf:models/q").model_path() == Path("models/q")
    bare = BackendSpec.parse("embedded")
    assert (bare.kind, bare.rest, bare.target, bare.fragment) == ("embedded", "", "", "")
    # only the first ':' splits: the rest keeps its own (a drive letter, a URL's port)
    assert BackendSpec.parse("vllm:C:/m").rest == "C:/m"


def test_every_registered_backend_has_a_builder_that_checks_its_form():
    # builders import their engine only when called, so loading them all needs no torch or vllm
    for kind in BACKENDS.names():
        build = BACKENDS.load(kind)
        assert callable(build), kind
    for spec in ("embedded:x", "tiny:x", "openai:", "llamacpp:", "hf:", "vllm:"):
        with pytest.raises(BackendSpecError, match=r"expected "):
            make_backend(spec)


def test_an_unknown_backend_lists_the_known_kinds():
    with pytest.raises(BackendSpecError) as info:
        make_backend("ollama:qwen")
    assert all(kind in str(info.value) for kind in BACKENDS.names())


@pytest.mark.parametrize("override", ["model.backend=ollama:qwen",
                                      "verify.judge_backend=ollama:qwen"])
def test_the_config_refuses_an_unknown_backend_when_it_loads(override):
    with pytest.raises(RunError) as info:
        load_config(None, [override])
    message = str(info.value)
    assert f"{override.split('=')[0]}: backend 'ollama:qwen' is not one of: " in message
    assert all(kind in message for kind in BACKENDS.names())


def test_the_config_accepts_every_registered_kind():
    for kind in BACKENDS.names():
        assert load_config(None, [f"model.backend={kind}:x"]).model.backend == f"{kind}:x"


def test_a_trained_model_is_loaded_by_the_base_models_engine_where_it_can_be(tmp_path):
    """vLLM stays vLLM (a paired difference then compares weights, not engines); a server,
    llama.cpp or the embedded package cannot load a new folder, so transformers does."""
    folder = tmp_path / "round-1" / "model"
    assert BackendSpec.parse("vllm:Qwen/Qwen3-8B").with_weights(folder) == f"vllm:{folder}"
    for base in ("embedded", "hf:models/q#q8.gguf", "openai:http://a:1/v1#m",
                 "llamacpp:m.gguf", "scripted"):
        assert BackendSpec.parse(base).with_weights(folder) == f"hf:{folder}", base


def test_engines_release_closes_what_they_loaded_and_keeps_what_was_given(monkeypatch):
    import svdistill.backends as backends
    from svdistill.backends.scripted import ScriptedBackend
    from svdistill.config import load_config
    from svdistill.phases import Engines

    closed: list[str] = []

    def backend(name: str) -> ScriptedBackend:
        made = ScriptedBackend(name=name)
        made.close = lambda: closed.append(name)
        return made

    monkeypatch.setattr(backends, "make_backend", lambda spec, cfg: backend("loaded"))
    given = backend("given")
    engines = Engines(preloaded={"scripted:given": given})
    config = load_config(None, ["model.backend=scripted"])
    first = engines.model(config)
    engines.release()
    assert closed == ["loaded"]
    assert engines.get("scripted:given", config) is given
    assert engines.model(config) is not first  # loaded again when named again


def test_llamacpp_samples_the_configured_distribution_not_its_own_defaults(tmp_path):
    # llama-cpp-python's create_chat_completion cuts the tail at min_p=0.05 by default, which
    # no other engine does: the same config would sample a different distribution there.
    from svdistill.backends.llamacpp import LlamaCppBackend

    class Recorder:
        def create_chat_completion(self, **kwargs):
            self.kwargs = kwargs
            return {"choices": [{"message": {"content": "4"}, "finish_reason": "stop"}]}

    backend = LlamaCppBackend.__new__(LlamaCppBackend)
    backend.path, backend.llm = tmp_path / "m.gguf", Recorder()
    backend.path.write_bytes(b"GGUF")
    params = SamplingParams(temperature=0.7, top_p=0.95, top_k=50, max_tokens=8, seed=3)
    [reply] = backend.generate([Request.chat([{"role": "user", "content": "2+2?"}], params)])
    sent = backend.llm.kwargs
    assert reply.text == "4"
    assert (sent["min_p"], sent["repeat_penalty"]) == (0.0, 1.0)
    assert (sent["temperature"], sent["top_p"], sent["top_k"], sent["seed"]) == (0.7, 0.95, 50, 3)
    assert backend.identity.endswith(":min_p=0")  # replies sampled with min_p=0.05 not reused
