"""Take a trained model anywhere: GGUF for llama.cpp (and Ollama, LM Studio), and Hub cards.

`svdistill export RUN` writes a model card (`README.md` with Hugging Face metadata) into the
run's merged model folder and a dataset card into its `sft/dataset/` folder, so
`huggingface_hub.upload_folder` publishes either folder as it is. With `--gguf` it also writes
`RUN/export/model-QUANT.gguf`:

- converted by llama.cpp's own `convert_hf_to_gguf.py`, from the source distribution of the
  installed llama-cpp-python (the converter must match the llama.cpp the package was built
  from). It is fetched once with `pip download` and cached under the svdistill cache
  (`SVDISTILL_CACHE`, default ~/.cache/svdistill); `SVDISTILL_LLAMA_CPP_SDIST` may name an
  already downloaded sdist (for offline machines). The converter runs with the sdist's own
  `gguf-py`, so its version matches too;
- F16 and Q8_0 come straight from the converter (`--outtype`); Q4_K_M is the F16 file
  quantized by llama.cpp's `llama_model_quantize`, which llama-cpp-python exposes;
- then llama-cpp-python loads the file and answers one question, or the export fails.

Evaluate the file like any llama.cpp model: `svdistill evaluate CONFIG --out RUN --model
RUN/export/model-Q8_0.gguf` (a `.gguf` path is the `llamacpp:` backend).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .backends.spec import BackendSpec
from .store import RunError

QUANTS = ("F16", "Q8_0", "Q4_K_M")
_OUTTYPE = {"F16": "f16", "Q8_0": "q8_0"}
#: What the converter needs from the sdist: the script, its model classes, its gguf package.
_CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/")
EMBEDDED_HUB_ID = "Qwen/Qwen2.5-Coder-0.5B-Instruct"


def cache_root() -> Path:
    return Path(os.environ.get("SVDISTILL_CACHE", Path.home() / ".cache" / "svdistill"))


def llama_cpp_version() -> str:
    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        raise RunError("GGUF export needs llama-cpp-python: pip install 'svdistill[export]'"
                       ) from None


def _download_sdist(version: str, into: Path) -> Path:
    """The llama-cpp-python sdist of `version`, by pip (PyPI or the configured index)."""
    given = os.environ.get("SVDISTILL_LLAMA_CPP_SDIST")
    if given:
        path = Path(given)
        if not path.is_file():
            raise RunError(f"SVDISTILL_LLAMA_CPP_SDIST: no file at {path}")
        return path
    command = [sys.executable, "-m", "pip", "download", f"llama-cpp-python=={version}",
               "--no-deps", "--no-binary", ":all:", "--no-build-isolation", "-d", str(into)]
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(into.glob("llama_cpp_python-*.tar.gz"))
    if not found:  # pip may fail after saving the file (metadata), so the file decides
        raise RunError(f"could not download the llama-cpp-python {version} sdist for its GGUF "
                       f"converter (pip: {done.stderr.strip()[-400:]}); download it yourself and "
                       "set SVDISTILL_LLAMA_CPP_SDIST=PATH.tar.gz")
    return found[0]


def converter(version: str | None = None) -> Path:
    """llama.cpp's convert_hf_to_gguf.py for the installed llama-cpp-python, cached."""
    version = version or llama_cpp_version()
    home = cache_root() / f"llama.cpp-converter-{version}"
    script = home / "convert_hf_to_gguf.py"
    if script.is_file():
        return script
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        sdist = _download_sdist(version, Path(tmp))
        staging = Path(tmp) / "converter"
        prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)
                       and m.name[len(prefix):].startswith(_CONVERTER_PARTS)]
            if not any(m.name.endswith("convert_hf_to_gguf.py") for m in members):
                raise RunError(f"{sdist}: no vendor/llama.cpp/convert_hf_to_gguf.py inside")
            for member in members:
                member.name = member.name[len(prefix):]
            archive.extractall(staging, members=members, filter="data")
        if home.exists():  # another process finished first
            return script
        staging.rename(home)
    return script


def convert(model_dir: Path, out: Path, quant: str, threads: int | None = None) -> Path:
    """Write `model_dir` (a transformers folder) as GGUF at `out`, quantized as `quant`."""
    if quant not in QUANTS:
        raise RunError(f"--quant {quant!r}: expected one of {', '.join(QUANTS)}")
    script = converter()
    out.parent.mkdir(parents=True, exist_ok=True)
    first = out if quant in _OUTTYPE else out.with_name(f".{out.stem}.f16.tmp.gguf")
    command = [sys.executable, str(script), str(model_dir), "--outfile", str(first),
               "--outtype", _OUTTYPE.get(quant, "f16")]
    env = {**os.environ, "PYTHONPATH": ""}  # the converter's own gguf-py, not another one
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not first.is_file():
        raise RunError(f"llama.cpp's converter failed on {model_dir}:\n"
                       f"{(done.stderr or done.stdout).strip()[-2000:]}")
    if quant == "Q4_K_M":
        try:
            quantize(first, out, quant, threads)
        finally:
            first.unlink(missing_ok=True)
    return out


def quantize(src: Path, dst: Path, quant: str, threads: int | None = None) -> None:
    """llama.cpp's own quantizer (llama-quantize), through llama-cpp-python's low-level API."""
    import llama_cpp.llama_cpp as ll

    ftype = {"Q4_K_M": ll.LLAMA_FTYPE_MOSTLY_Q4_K_M, "Q8_0": ll.LLAMA_FTYPE_MOSTLY_Q8_0}[quant]
    params = ll.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads or os.cpu_count() or 1
    code = ll.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if code != 0 or not dst.is_file():
        raise RunError(f"llama_model_quantize {src} -> {quant} failed (code {code})")


def smoke_test(gguf: Path, question: str = "What is 2 + 3? Answer with the number.") -> dict:
    """Load `gguf` in llama-cpp-python and ask one question (greedy); the reply and timings."""
    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=os.cpu_count(), verbose=False)
    try:
        loaded = time.perf_counter()
        reply = llm.create_chat_completion(
            messages=[{"role": "user", "content": question}], max_tokens=24, temperature=0.0)
    finally:
        llm.close()
    text = reply["choices"][0]["message"]["content"] or ""
    return {"question": question, "reply": text, "completion_tokens":
            reply.get("usage", {}).get("completion_tokens", 0),
            "load_s": round(loaded - started, 2),
            "answer_s": round(time.perf_counter() - loaded, 2)}


# ---------------------------------------------------------------------------- cards


def trained_round(run: Path) -> Path:
    """The folder holding the run's trained model: RUN itself (a phase-by-phase run) or its last
    round-K of `svdistill run`."""
    if (run / "model" / "config.json").is_file():
        return run
    rounds = sorted((p for p in run.glob("round-*") if (p / "model" / "config.json").is_file()),
                    key=lambda p: int(p.name.split("-", 1)[1]) if p.name[6:].isdigit() else -1)
    if not rounds:
        raise RunError(f"{run}: no trained model (model/config.json) here or in a round-K "
                       "folder: run `svdistill train` or `svdistill run` first")
    return rounds[-1]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _yaml_front(meta: dict[str, Any]) -> str:
    import yaml

    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _config(folder: Path) -> dict[str, Any]:
    import yaml

    try:
        return yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, ValueError):
        return {}


def base_model_id(config: dict[str, Any], train_stats: dict[str, Any]) -> str | None:
    """A Hub id for the card's `base_model`, when one is known; a local path is not one."""
    backend = str(config.get("model", {}).get("backend", ""))
    if backend.startswith("embedded"):
        return EMBEDDED_HUB_ID
    for spec in (BackendSpec.parse(backend).target, train_stats.get("base_model") or ""):
        if spec.count("/") == 1 and not Path(spec).exists() and not spec.startswith((".", "~")):
            return spec
    return None


def results_table(run: Path) -> str:
    """The run's evaluation results as a Markdown table (every round's and the no-filter's)."""
    lines = ["| benchmark | model | method | questions x samples | pass@1 | 95% CI |",
             "|---|---|---|---|---|---|"]
    for path in sorted(run.rglob("eval/*/*/summary.json")):
        s = _read_json(path)
        if s.get("pass_at_1") is None:
            continue
        where = path.parent.parent.parent.parent.relative_to(run)
        model = s.get("model", "?") if str(where) in (".", "round-1") else f"{where}/{s['model']}"
        ci = s.get("ci") or [None, None]
        lines.append(f"| {s.get('benchmark')} | {model} | {s.get('method', 'single')} | "
                     f"{s.get('graded_questions')}x{s.get('samples_per_question')} | "
                     f"{100 * s['pass_at_1']:.1f} | {100 * ci[0]:.1f}-{100 * ci[1]:.1f} |")
    return "\n".join(lines) if len(lines) > 2 else "No evaluation results in this run yet."


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def model_card(run: Path, folder: Path) -> str:
    config, train = _config(folder) or _config(run), _read_json(folder / "train" / "stats.json")
    sft = _read_json(folder / "sft" / "stats.json")
    base = base_model_id(config, train)
    meta: dict[str, Any] = {"library_name": "transformers", "pipeline_tag": "text-generation",
                            "tags": ["svdistill", "self-verified-distillation",
                                     "synthetic-data", train.get("method") or "sft"]}
    if base:
        meta = {"base_model": base, **meta}
    verify = config.get("verify", {})
    sample = config.get("sample", {})
    body = f"""
# {folder.resolve().parent.name if folder == run else run.resolve().name} (svdistill)

Fine-tuned from {f"`{base}`" if base else f"`{train.get('base_model', 'a local model')}`"} by
Self-Verified Distillation (Lee & Liang, 2026) with [svdistill](https://pypi.org/project/svdistill/):
the model sampled solutions to unlabeled seed questions, judged them itself, and was fine-tuned
on the first solution per question its judge accepted. No reference answers, no stronger teacher.

- seeds: {config.get("seeds", {}).get("path") or "arithmetic (built-in)"},
  {sft.get("questions", "?")} questions, {sample.get("n", "?")} samples each
- judge: stages {verify.get("stages")}, {verify.get("votes")} votes, {verify.get("decision")}
- training set: {sft.get("kept", "?")} examples (curate policy {sft.get("policy", "?")})
- training: {train.get("method", "?")}, {train.get("steps", "?")} steps, loss
  {_num(train.get("first_loss"))} -> {_num(train.get("last_loss"))}

## Evaluation (pass@1 on held-out benchmarks)

{results_table(run)}
"""
    if base == EMBEDDED_HUB_ID:
        body += ("\nThe base weights are the Q4_0 GGUF of that model, dequantized: the quantized "
                 "model svdistill embeds.\n")
    return _yaml_front(meta) + body


def dataset_card(folder: Path) -> str:
    sft = _read_json(folder / "sft" / "stats.json")
    kept = sft.get("kept") or 0
    size = ("n<1K" if kept < 1000 else "1K<n<10K" if kept < 10_000 else "10K<n<100K")
    meta = {"tags": ["svdistill", "self-verified-distillation", "synthetic-data"],
            "task_categories": ["text-generation"], "size_categories": [size],
            "configs": [{"config_name": "default",
                         "data_files": [{"split": "train", "path": "data-*.arrow"}]}]}
    dropped = sft.get("dropped") or {}
    body = f"""
# Self-verified training set (svdistill)

{kept} training examples: for each seed question, the first of the model's own sampled solutions
that its self-verification cascade accepted (curate policy {sft.get("policy", "?")}). Each row is
the prompt and the full sampled response. Written by `datasets.save_to_disk`.

- questions: {sft.get("questions", "?")}, candidates: {sft.get("candidates", "?")}, accepted:
  {sft.get("accepted", "?")}
- dropped: {", ".join(f"{n} {r}" for r, n in dropped.items()) or "none"}

Correctness is not guaranteed: the judge is the model itself.
"""
    return _yaml_front(meta) + body


def write_cards(run: Path) -> dict[str, str]:
    """Write the model card and (when the dataset folder exists) the dataset card."""
    from .store import atomic_writer

    folder = trained_round(run)
    written = {}
    with atomic_writer(folder / "model" / "README.md") as f:
        f.write(model_card(run, folder))
    written["model_card"] = str(folder / "model" / "README.md")
    if (folder / "sft" / "dataset").is_dir():
        with atomic_writer(folder / "sft" / "dataset" / "README.md") as f:
            f.write(dataset_card(folder))
        written["dataset_card"] = str(folder / "sft" / "dataset" / "README.md")
    return written


def run_export(run: Path, gguf: bool = False, quant: str = "Q8_0", check: bool = True
               ) -> dict[str, Any]:
    """Cards always; with `gguf`, RUN/export/model-QUANT.gguf, loaded and asked once."""
    if quant not in QUANTS:
        raise RunError(f"--quant {quant!r}: expected one of {', '.join(QUANTS)}")
    folder = trained_round(run)
    summary: dict[str, Any] = {"model_dir": str(folder / "model"), **write_cards(run)}
    if gguf:
        started = time.perf_counter()
        out = run / "export" / f"model-{quant}.gguf"
        convert(folder / "model", out, quant)
        summary.update(gguf=str(out), quant=quant, gguf_mib=round(out.stat().st_size / 2**20, 1),
                       convert_s=round(time.perf_counter() - started, 1),
                       converter=f"llama-cpp-python {llama_cpp_version()} sdist")
        if check:
            summary["check"] = smoke_test(out)
    return summary


__all__ = ["QUANTS", "convert", "converter", "dataset_card", "model_card", "quantize",
           "run_export", "smoke_test", "trained_round", "write_cards"]
