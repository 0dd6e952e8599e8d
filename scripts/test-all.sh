#!/usr/bin/env bash
# Runs every test on a fresh machine: installs the real Keepsake 0.4.2 and an S3-compatible server
# (moto) into .ci-work/, starts the server on 127.0.0.1, then runs the Rust test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-env.sh

port=$(.ci-work/venv-tools/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.ci-work/venv-tools/bin/moto_server -H 127.0.0.1 -p "$port" > .ci-work/moto.log 2>&1 &
moto_pid=$!
trap 'kill $moto_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if .ci-work/venv-tools/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null; then break; fi
    sleep 0.1
done

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export KEEPSAKE_TEST_S3_ENDPOINT="http://127.0.0.1:$port" AWS_ENDPOINT="http://127.0.0.1:$port"
export KEEPSAKE_VENV="$PWD/.ci-work/venv-keepsake"
export KEEPSAKE_TEST_MOTO_SERVER="$PWD/.ci-work/venv-tools/bin/moto_server"
export KEEPSAKE_NO_ANALYTICS=1
.ci-work/venv-tools/bin/python - "$port" <<'PY'
import sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/keepsake-test", method="PUT")
urllib.request.urlopen(req).read()
PY

# Lints first: a warning fails the run, as it would in review.
cargo clippy --workspace --all-targets --locked -- -D warnings

# A snapshot (tests/runner/snapshots/) that differs fails the run and nothing is written: review
# and accept changes locally with `cargo insta review` (or INSTA_UPDATE=always), then commit them.
export INSTA_UPDATE=no
cargo test --workspace --locked --no-fail-fast --exclude keepsake-py

# The Python package: built into the tools environment, then its pytest suite.
VIRTUAL_ENV="$PWD/.ci-work/venv-tools" PATH="$PWD/.ci-work/venv-tools/bin:$PATH" \
    .ci-work/venv-tools/bin/maturin develop --quiet -m crates/keepsake-py/Cargo.toml
.ci-work/venv-tools/bin/python -m pytest -q crates/keepsake-py/tests

# The dashboard in a real browser (Debian's chromium, headless, through chromedriver): `ui` and
# `report` on fixture projects, 10,000 experiments among them; screenshots in .ci-work/screenshots/.
.ci-work/venv-tools/bin/python -m pytest -q tests/web

# The benchmark command, end to end at its smallest sizes (it asserts no timings; its table goes
# to .ci-work/, bench/RESULTS.md is only written by hand). Skipped with KEEPSAKE_SKIP_BENCH=1.
if [ -z "${KEEPSAKE_SKIP_BENCH:-}" ]; then
    python3 bench/bench.py --quick --runs 1 --out .ci-work/bench-smoke.md
fi
