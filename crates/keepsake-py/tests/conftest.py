"""Fixtures for the Python package's tests: real git projects built by fixtures/, the installed
`git-keepsake` entry point, and training scripts run as real processes."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

HERMETIC = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "TZ": "UTC",
    "LC_ALL": "C",
    "KEEPSAKE_NO_ANALYTICS": "1",
}


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


def ks(*args, cwd=None, env=None, check=True):
    """Runs the `git-keepsake` command that pip installed with the package."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([str(BIN / "git-keepsake"), *args], cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git-keepsake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def ls_json(cwd=None, env=None):
    return json.loads(ks("ls", "--json", cwd=cwd, env=env).stdout)


def run_python(code, cwd, python=None, env=None, **kwargs):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [python or sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd, env=full_env, capture_output=True, text=True, **kwargs,
    )


def store_of(project_dir):
    return Path(project_dir) / ".git" / "keepsake" / "storage"


def require_env(name):
    """An outside part's setting: skipped without it, except in CI (`CI` set), where that fails."""
    value = os.environ.get(name)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not set: run the tests through scripts/test-all.sh")
        pytest.skip(f"{name} is not set (scripts/test-all.sh sets it)")
    return value
