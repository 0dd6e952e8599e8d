#!/usr/bin/env bash
# Installs what the tests need beyond Rust, into .ci-work/ (kept between runs, never committed):
#   .ci-work/venv-keepsake  the real Keepsake 0.4.2 from PyPI (pins in fixtures/keepsake-0.4.2/install.sh)
#   .ci-work/venv-tools     moto (the S3-compatible test server)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .ci-work
PY=${PYTHON:-python3}
if [ ! -x .ci-work/venv-keepsake/bin/keepsake ]; then
    echo "== installing Keepsake 0.4.2 into .ci-work/venv-keepsake" >&2
    rm -rf .ci-work/venv-keepsake
    PATH="$(dirname "$(command -v "$PY")"):$PATH" bash fixtures/keepsake-0.4.2/install.sh .ci-work/venv-keepsake >&2
    .ci-work/venv-keepsake/bin/pip install -q numpy==2.4.6 >&2
fi
if [ ! -x .ci-work/venv-tools/bin/moto_server ]; then
    echo "== installing the S3 test server into .ci-work/venv-tools" >&2
    rm -rf .ci-work/venv-tools
    "$PY" -m venv .ci-work/venv-tools
    .ci-work/venv-tools/bin/pip install -q -r scripts/test-requirements.txt >&2
fi
