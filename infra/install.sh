#!/usr/bin/env bash
# Create the virtual environment and install crisol with its pinned dependencies.
# torch comes first, chosen for the machine: the CUDA build where an NVIDIA GPU is present,
# otherwise a CPU wheel (a local wheel if pip's find-links has one, else PyTorch's CPU index),
# so that a CPU machine never downloads gigabytes of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_PIN="torch==2.13.0"
CPU_INDEX="https://download.pytorch.org/whl/cpu"

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "install: torch already present ($("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "install: NVIDIA GPU found, installing the CUDA build of $TORCH_PIN"
    "${pip[@]}" install "$TORCH_PIN"
elif "${pip[@]}" install --no-index --no-deps "$TORCH_PIN" 2>/dev/null; then
    echo "install: no GPU, installed $TORCH_PIN from a local wheel"
elif curl -fsS -m 5 -o /dev/null "$CPU_INDEX/"; then
    echo "install: no GPU, installing the CPU build of $TORCH_PIN from PyTorch's CPU index"
    "${pip[@]}" install "$TORCH_PIN" --index-url "$CPU_INDEX" --extra-index-url https://pypi.org/simple
else
    echo "install: WARNING no GPU, and neither a local CPU wheel nor PyTorch's CPU index is reachable;" \
         "falling back to PyPI's $TORCH_PIN" >&2
    "${pip[@]}" install "$TORCH_PIN"
fi

# Constraints pin every transitive version; the local-version label of torch (+cpu) is ignored.
"${pip[@]}" install -c requirements.lock -e ".[dev]"
echo "install: done ($("$VENV/bin/python" --version), torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
