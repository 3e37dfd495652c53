"""`svdistill export`: Hub cards that parse, and a GGUF made by llama.cpp's converter that
llama-cpp-python loads and answers with."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from svdistill.export import converter, dataset_card, model_card, run_export, trained_round
from svdistill.store import RunError


def fake_run(tmp_path: Path, model: Path | None = None) -> Path:
    """A run folder as `svdistill run` leaves it, with only what export reads."""
    run = tmp_path / "run"
    folder = run / "round-1"
    if model is not None:
        shutil.copytree(model, folder / "model")
    else:
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "config.json").write_text("{}")
    (folder / "train").mkdir()
    (folder / "train" / "stats.json").write_text(json.dumps({
        "base_model": "/root/.cache/svdistill/x-hf", "method": "lora", "steps": 12,
        "first_loss": 0.09, "last_loss": 0.05}))
    (folder / "sft").mkdir()
    (folder / "sft" / "stats.json").write_text(json.dumps({
        "policy": "first-valid", "questions": 20, "candidates": 80, "accepted": 49, "kept": 19,
        "dropped": {"no accepted candidate": 1}}))
    (folder / "config.yaml").write_text("model: {backend: embedded}\nseeds: {path: science}\n"
                                        "sample: {n: 4}\nverify: {stages: [rules, solve], "
                                        "votes: 3, decision: majority}\n")
    for model_name, value in (("base", 0.25), ("trained", 0.5)):
        out = folder / "eval" / model_name / "science-heldout@24"
        out.mkdir(parents=True)
        (out / "summary.json").write_text(json.dumps({
            "benchmark": "science-heldout@24", "model": model_name, "method": "single",
            "graded_questions": 24, "samples_per_question": 1, "pass_at_1": value,
            "ci": [value - 0.2, value + 0.2]}))
    return run


def test_cards_carry_hub_metadata_and_the_results(tmp_path):
    hub = pytest.importorskip("huggingface_hub")
    run = fake_run(tmp_path)
    folder = trained_round(run)
    card = hub.ModelCard(model_card(run, folder))
    assert card.data.base_model == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    assert "self-verified-distillation" in card.data.tags and card.data.library_name
    assert "| science-heldout@24 | trained | single | 24x1 | 50.0 | 30.0-70.0 |" in card.text
    assert "19 examples" in card.text
    data = hub.DatasetCard(dataset_card(folder))
    assert data.data.size_categories == ["n<1K"] and "svdistill" in data.data.tags
    assert data.data.configs[0]["data_files"][0]["split"] == "train"


def test_a_local_base_model_is_not_named_as_a_hub_id(tmp_path):
    from svdistill.export import base_model_id

    assert base_model_id({"model": {"backend": f"hf:{tmp_path}"}}, {}) is None
    assert base_model_id({"model": {"backend": "vllm:Qwen/Qwen3-4B"}}, {}) == "Qwen/Qwen3-4B"


def test_no_trained_model_is_an_error(tmp_path):
    with pytest.raises(RunError, match="no trained model"):
        run_export(tmp_path)
    with pytest.raises(RunError, match="expected one of"):
        run_export(fake_run(tmp_path), quant="Q3")


def _converter_or_skip() -> Path:
    """The cached converter; fetched only when SVDISTILL_LLAMA_CPP_SDIST names the sdist (tests
    do not download 77 MB from PyPI on their own)."""
    pytest.importorskip("llama_cpp")
    from svdistill.export import cache_root, llama_cpp_version

    cached = cache_root() / f"llama.cpp-converter-{llama_cpp_version()}"
    if not cached.is_dir() and not os.environ.get("SVDISTILL_LLAMA_CPP_SDIST"):
        pytest.skip("llama.cpp's converter is not cached: run `svdistill export RUN --gguf` once "
                    "or set SVDISTILL_LLAMA_CPP_SDIST=llama_cpp_python-VERSION.tar.gz")
    return converter()


@pytest.mark.slow
def test_tiny_model_exports_to_gguf_that_llama_cpp_loads(tmp_path, tiny_model):
    _converter_or_skip()
    pytest.importorskip("gguf")
    run = fake_run(tmp_path, tiny_model)
    summary = run_export(run, gguf=True, quant="F16")
    gguf_path = Path(summary["gguf"])
    assert gguf_path == run / "export" / "model-F16.gguf" and gguf_path.stat().st_size > 0
    assert summary["check"]["completion_tokens"] > 0  # loaded and generated (its text is noise)
    assert (run / "round-1" / "model" / "README.md").is_file()
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_path))
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "qwen2"
    # and it evaluates like any llama.cpp model
    from svdistill.backends.base import Request, SamplingParams
    from svdistill.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(gguf_path, n_ctx=512, n_threads=1)
    try:
        (reply,) = backend.generate([Request.chat([{"role": "user", "content": "Hi"}],
                                                  SamplingParams(0.0, 1.0, 0, 8, 0))])
    finally:
        backend.close()
    assert reply.completion_tokens > 0
