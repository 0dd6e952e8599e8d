"""What the package installs under the environment's prefix besides Python: the man pages in
share/man/man1 (so `git keepsake --help`, which git turns into `man git-keepsake`, and `git help
keepsake` work for a virtual environment's command) and the bash completion file in
share/bash-completion/completions, answered by the `git-keepsake` entry point pip installed."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import keepsake
from conftest import BIN, ks

SHARE = Path(sys.prefix) / "share"


def path_env(**extra):
    """The environment with this venv's bin first on PATH (as an activated venv has it) and no
    MANPATH, so man derives its search path from PATH as it does for a user."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra)
    env.pop("MANPATH", None)
    return env


def require_man():
    if shutil.which("man") is None:
        if os.environ.get("CI"):
            pytest.fail("`man` is missing: scripts/setup-test-env.sh installs man-db")
        pytest.skip("no `man`")


def test_the_pages_are_installed_under_the_prefix():
    pages = {p.name for p in (SHARE / "man" / "man1").glob("git-keepsake*.1")}
    assert {"git-keepsake.1", "git-keepsake-ls.1", "git-keepsake-push.1", "git-keepsake-init.1"} <= pages


@pytest.mark.parametrize("argv", [["git", "keepsake", "--help"], ["git", "help", "keepsake"]])
def test_git_shows_the_man_page(tmp_path, argv):
    require_man()
    proc = subprocess.run(argv, cwd=tmp_path, env=path_env(MANPAGER="cat", MANWIDTH="100"),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "No manual entry" not in proc.stderr
    out = proc.stdout
    assert "git-keepsake - Version control for machine learning, built into git" in out
    for section in ("SYNOPSIS", "GLOBAL OPTIONS", "SUBCOMMANDS", "EXAMPLES"):
        assert section in out, out
    assert "git-keepsake-ls(1)" in out


def test_a_subcommands_page_and_help_without_man(tmp_path):
    require_man()
    proc = subprocess.run(["man", "git-keepsake-push"], cwd=tmp_path,
                          env=path_env(MANPAGER="cat", MANWIDTH="100"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "git keepsake push origin --all" in proc.stdout
    # `help <command>` is clap's text: no man, no pager.
    out = ks("help", "push", cwd=tmp_path, env={"PATH": "/nonexistent"}).stdout
    assert out.startswith("Share experiments through a git remote")
    assert "Examples:\n  git keepsake push origin 3d61b2c\n" in out


def test_the_installed_bash_completion_completes_an_id_through_the_entry_point(project):
    exp = keepsake.init(path=".", params={"lr": 0.1})
    exp.stop()
    completion = SHARE / "bash-completion" / "completions" / "git-keepsake"
    script = f"""
        source {completion} || exit 97
        COMP_WORDS=(git-keepsake show {exp.id[:5]}); COMP_CWORD=2; COMP_TYPE=9
        _clap_complete_git_keepsake git-keepsake {exp.id[:5]} show
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=project,
                          env=path_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.split() == [exp.id]
    # The entry point on PATH is the Python package's, not a Rust binary.
    assert (BIN / "git-keepsake").read_text().startswith("#!")
