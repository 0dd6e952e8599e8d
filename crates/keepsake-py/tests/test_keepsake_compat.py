"""The same training script under the real Keepsake 0.4.2 and under this package: Keepsake's own
CLI reads what this package wrote, with the same experiments, params, metrics, steps and files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, require_env

RUNS = [["--learning-rate", "0.1", "--epochs", "3"], ["--learning-rate", "0.5", "--epochs", "4", "--l2", "0.01"]]


def make_project(path, git):
    subprocess.run(["bash", str(ROOT / "fixtures/make-git-project.sh"), str(path), *([] if git else ["--no-git"])], check=True)
    shutil.copy(ROOT / "examples/train.py", path / "train.py")
    (path / "keepsake.yaml").write_text("repository: file://.keepsake\n")
    (path / ".keepsakeignore").write_text("logs/\n")
    # The same files in both projects (git or not), so that their snapshots can be compared.
    (path / ".gitignore").write_text(".keepsake/\nlogs/\ncheckpoints/\n")


def train(python, cwd):
    for args in RUNS:
        proc = subprocess.run([str(python), "train.py", *args], cwd=cwd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr


def keepsake_cli(venv, cwd, *args):
    proc = subprocess.run([str(venv / "bin/keepsake"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"keepsake {args}: {proc.stderr}"
    return proc.stdout


def summary(venv, cwd):
    """Per experiment (by params): the checkpoints' steps and metrics, as Keepsake's CLI reads them."""
    out = {}
    for e in json.loads(keepsake_cli(venv, cwd, "ls", "--json")):
        shown = json.loads(keepsake_cli(venv, cwd, "show", "--json", e["id"]))
        key = json.dumps(e["params"], sort_keys=True)
        out[key] = {
            "num_checkpoints": e["num_checkpoints"],
            "best_step": (e["best_checkpoint"] or {}).get("step"),
            "latest_step": e["latest_checkpoint"]["step"],
            "checkpoints": [(c["step"], c["metrics"], c["path"], c["primary_metric"]) for c in shown["checkpoints"]],
            "ids": [c["id"] for c in shown["checkpoints"]],
            "path": shown["path"],
        }
    return out


def test_keepsake_reads_what_this_package_wrote(tmp_path):
    venv = Path(require_env("KEEPSAKE_VENV"))
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    make_project(theirs, git=False)
    make_project(ours, git=True)
    train(venv / "bin/python", theirs)
    train(sys.executable, ours)

    a, b = summary(venv, theirs), summary(venv, ours)
    assert sorted(a) == sorted(b) and len(a) == 2
    for params in a:
        ta, tb = a[params], b[params]
        for key in ["num_checkpoints", "best_step", "latest_step", "path"]:
            assert ta[key] == tb[key], (params, key)
        for (sa, ma, pa, pma), (sb, mb, pb, pmb) in zip(ta["checkpoints"], tb["checkpoints"]):
            assert (sa, pa, pma) == (sb, pb, pmb)
            assert ma == pytest.approx(mb)
        # Keepsake's own checkout of each checkpoint gives the same files from both.
        for ida, idb in zip(ta["ids"], tb["ids"]):
            da, db = tmp_path / f"co-{ida}", tmp_path / f"co-{idb}"
            keepsake_cli(venv, theirs, "checkout", "-f", "-o", str(da), ida)
            keepsake_cli(venv, ours, "checkout", "-f", "-o", str(db), idb)
            files_a = sorted(str(p.relative_to(da)) for p in da.rglob("*") if p.is_file())
            files_b = sorted(str(p.relative_to(db)) for p in db.rglob("*") if p.is_file())
            assert files_a == files_b
            assert "checkpoints/weights.npy" in files_a
            for f in files_a:
                assert (da / f).read_bytes() == (db / f).read_bytes(), f
