#!/usr/bin/env bash
# The framework callbacks' tests (tests/frameworks/) on real frameworks from PyPI, one venv each
# under .ci-work/ (kept between runs, rebuilt when its pins in scripts/frameworks/ change):
#   venv-fw-keras3   Keras 3 on JAX          -> test_keras.py
#   venv-fw-tfkeras  TensorFlow CPU tf.keras -> test_keras.py
#   venv-fw-torch    torch, Lightning 2, transformers -> test_lightning.py, test_hf.py
# The package is built once into a wheel and pip-installed into each venv. A separate CI step
# from scripts/test-all.sh (the wheels are large); every venv runs even when one fails.
# TensorFlow 2.15 has wheels for Python 3.9-3.11 only: set PYTHON to such a python3 if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .ci-work
PY=${PYTHON:-python3}

stamp() { cat "$@" | sha256sum | cut -c1-16; }

for name in keras3 tfkeras torch; do
    venv=.ci-work/venv-fw-$name
    want=$(stamp "scripts/frameworks/$name.txt")
    if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
        echo "== installing scripts/frameworks/$name.txt into $venv" >&2
        start=$SECONDS
        rm -rf "$venv"
        "$PY" -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check -r "scripts/frameworks/$name.txt" >&2
        echo "$want" > "$venv/.stamp"
        echo "== $venv installed: $((SECONDS - start)) s" >&2
    fi
done

# maturin comes with the test tools.
[ -x .ci-work/venv-tools/bin/maturin ] || bash scripts/setup-test-env.sh
rm -rf .ci-work/fw-wheel
echo "== building the keepsake wheel" >&2
start=$SECONDS
.ci-work/venv-tools/bin/maturin build --quiet -m crates/keepsake-py/Cargo.toml --out .ci-work/fw-wheel >&2
echo "== wheel built: $((SECONDS - start)) s" >&2
wheel=$(ls .ci-work/fw-wheel/keepsake-*.whl)

export KERAS_BACKEND=jax JAX_PLATFORMS=cpu TF_CPP_MIN_LOG_LEVEL=2 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export KEEPSAKE_NO_ANALYTICS=1
failed=()
run() {
    local name=$1; shift
    local venv=.ci-work/venv-fw-$name
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel" >&2
    echo "== tests/frameworks in $venv: $*" >&2
    local start=$SECONDS
    if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"; then
        failed+=("$name")
    fi
    echo "== $name: $((SECONDS - start)) s" >&2
}
run keras3 tests/frameworks/test_keras.py
run tfkeras tests/frameworks/test_keras.py
run torch tests/frameworks/test_lightning.py tests/frameworks/test_hf.py

if [ ${#failed[@]} -gt 0 ]; then
    echo "framework tests failed in: ${failed[*]}" >&2
    exit 1
fi
