#!/usr/bin/env bash
# The Python half of README's test command: builds and installs the `syncodec` package into a
# virtual environment under target/ (reused when present), with the test dependencies from
# PyPI (numpy, pytest, torch, transformers: tests/requirements.txt), then runs pytest.
#
# torch comes from PyPI: its Linux x86-64 wheel is the CUDA build (about 0.5 GiB, plus about
# 2.3 GiB of NVIDIA libraries it needs to import), since PyPI has no CPU-only wheel for this
# platform. pip's download cache makes a reinstall quick; the tests run torch on the CPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${SYNCODEC_PYENV:-$root/target/pyenv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "python tests: creating $venv" >&2
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
if ! "$venv/bin/python" -c "import numpy, pytest, torch, transformers" 2>/dev/null; then
  echo "python tests: installing the test dependencies (tests/requirements.txt)" >&2
  "${pip[@]}" install -q -r "$here/requirements.txt"
fi
echo "python tests: building and installing ./python (maturin, release)" >&2
"${pip[@]}" install -q --force-reinstall --no-deps "$root/python"

cd "$root"
status=0
"$venv/bin/python" -m pytest python/tests -q -rs "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "python tests: error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
