import subprocess
import sys

import pytest

from svdistill.backends import BackendSpecError, make_backend
from svdistill.backends.base import Request, SamplingParams, call_key


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
