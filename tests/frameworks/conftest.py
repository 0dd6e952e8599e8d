"""Fixtures for the framework callbacks' tests (keras_callback, pl_callback, hf_callback): each
venv that scripts/test-frameworks.sh makes runs the files of its framework, training tiny models
on synthetic data inside a real git project, then reading back what was recorded through the
`git-keepsake` command that pip installed beside the package."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

HERMETIC = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "TZ": "UTC",
    "LC_ALL": "C",
    "KEEPSAKE_NO_ANALYTICS": "1",
    # Nothing is downloaded: models are built from configs.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
# Before any test module imports Keras.
os.environ.setdefault("KERAS_BACKEND", "jax")


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch, tmp_path):
    for k, v in HERMETIC.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A git project made by fixtures/make-git-project.sh; the working directory for the test."""
    path = tmp_path / "project"
    subprocess.run(["bash", str(ROOT / "fixtures/make-git-project.sh"), str(path)], check=True)
    monkeypatch.chdir(path)
    return path


def ks(*args, cwd=None):
    """Runs the `git-keepsake` command that pip installed with the package."""
    proc = subprocess.run([str(BIN / "git-keepsake"), *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"git-keepsake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def ls_json():
    return json.loads(ks("ls", "--json").stdout)


def only_experiment():
    """`show --json` of the one experiment `ls --json` lists (asserting there is one)."""
    listed = ls_json()
    assert len(listed) == 1, listed
    return listed[0], json.loads(ks("show", "--json", listed[0]["id"]).stdout)


def checkout(checkpoint_id, dest):
    ks("checkout", checkpoint_id, "-o", str(dest))
    return Path(dest)
