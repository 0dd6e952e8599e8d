#!/usr/bin/env bash
# Installs what the tests need beyond Rust, into .ci-work/ (kept between runs, never committed):
#   .ci-work/venv-keepsake  the real Keepsake 0.4.2 from PyPI (pins in fixtures/keepsake-0.4.2/install.sh)
#   .ci-work/venv-tools     moto (the S3-compatible test server), maturin, pytest, numpy, selenium
# and, from Debian, chromium + chromium-driver for the dashboard's browser tests (tests/web/).
# man-db (for `git keepsake --help`) and git's bash completion when they are missing.
# Each is rebuilt when the files that pin it change.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .ci-work
PY=${PYTHON:-python3}

stamp() { cat "$@" | sha256sum | cut -c1-16; }

want=$(stamp fixtures/keepsake-0.4.2/install.sh)-mpl
if [ "$(cat .ci-work/venv-keepsake/.stamp 2>/dev/null)" != "$want" ]; then
    echo "== installing Keepsake 0.4.2 into .ci-work/venv-keepsake" >&2
    rm -rf .ci-work/venv-keepsake
    PATH="$(dirname "$(command -v "$PY")"):$PATH" bash fixtures/keepsake-0.4.2/install.sh .ci-work/venv-keepsake >&2
    # The example training script needs numpy under Keepsake too; the plot tests matplotlib.
    .ci-work/venv-keepsake/bin/pip install -q numpy==2.4.6 matplotlib==3.11.2 >&2
    echo "$want" > .ci-work/venv-keepsake/.stamp
fi

want=$(stamp scripts/test-requirements.txt)
if [ "$(cat .ci-work/venv-tools/.stamp 2>/dev/null)" != "$want" ]; then
    echo "== installing test tools into .ci-work/venv-tools" >&2
    rm -rf .ci-work/venv-tools
    "$PY" -m venv .ci-work/venv-tools
    .ci-work/venv-tools/bin/pip install -q -r scripts/test-requirements.txt >&2
    echo "$want" > .ci-work/venv-tools/.stamp
fi

# The dashboard's browser tests drive Debian's chromium headless (no browser download of its own).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "== installing chromium and chromium-driver from Debian" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2
fi

# `git keepsake --help` through git runs `man`; the completion tests source git's own bash
# completion (Debian's git package ships it; bash-completion loads it in a login shell).
if ! command -v man >/dev/null; then
    echo "== installing man-db from Debian" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q man-db >&2
fi
if [ ! -f /usr/share/bash-completion/completions/git ]; then
    echo "== installing git's bash completion from Debian" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q git bash-completion >&2
fi
