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
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"

if [[ "$(uname -m)" == "x86_64" && -z "${CMAKE_ARGS:-}" ]]; then
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi

pip install "torch==2.13.0"
pip install -e ".[${extras}]"
