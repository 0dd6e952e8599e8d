#!/usr/bin/env bash
# The main job, on a fresh machine: installs the keepsake package (one pip install, which also
# gives the `git-keepsake` command), then in a fresh git repository runs a real training script
# three times with different params, recording into the local default store, and shows
# `git keepsake ls`, `show` of the best checkpoint, and a `checkout` of it.
# Usage: scripts/main-job.sh [WORK_DIR]   (default: a new temporary directory)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
venv="$root/.ci-work/venv-main"

echo "== installing numpy and the keepsake package into $venv (builds the Rust core)" >&2
[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q numpy==2.4.6
# Always reinstalled, so the job runs the code of this checkout (cargo rebuilds only what changed).
"$venv/bin/pip" install -q --force-reinstall --no-deps "$root/crates/keepsake-py"
export PATH="$venv/bin:$PATH"

project="$work/project"
echo "== a fresh git repository in $project" >&2
mkdir -p "$project"
cd "$project"
git init -q -b main .
cp "$root/examples/train.py" train.py
printf 'checkpoints/\n' > .gitignore
git add -A
git -c user.name="Main Job" -c user.email="main-job@example.com" commit -q -m "Training script"

for lr in 0.05 0.3 1.0; do
    echo "== python train.py --learning-rate $lr --epochs 8" >&2
    python train.py --learning-rate "$lr" --epochs 8
done

echo "== git keepsake ls" >&2
git keepsake ls
best=$(git keepsake ls --json | python -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["best_checkpoint"]]
best = min(rows, key=lambda r: r["best_checkpoint"]["metrics"]["val_loss"])
print(best["best_checkpoint"]["id"])')
echo "== git keepsake show $best" >&2
git keepsake show "$best"
echo "== git keepsake checkout $best -o $work/restored" >&2
git keepsake checkout "$best" -o "$work/restored"
ls -l "$work/restored" "$work/restored/checkpoints"
echo "== git log --notes=keepsake" >&2
git log --notes=keepsake --format='%h %s%n%N'
