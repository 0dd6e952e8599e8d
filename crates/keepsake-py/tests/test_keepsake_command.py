"""The `keepsake` command that pip installs next to `git-keepsake`: Keepsake 0.4.2's command line
over this package, reading what this package's Python API recorded the way the real Keepsake 0.4.2
CLI reads it, in a storage-only project (no git) as Keepsake users have them."""

import json
import os
import subprocess
from pathlib import Path

from conftest import BIN, ROOT, require_env, run_python

RECORD = """
import keepsake
for lr in (0.1, 0.01):
    e = keepsake.init(path=".", params={"lr": lr, "note": "sweep"})
    for step, loss in enumerate((0.5, 0.25 + lr)):
        with open("w.bin", "w") as f:
            f.write(f"weights {lr} {step}")
        e.checkpoint(path="w.bin", step=step, metrics={"loss": loss}, primary_metric=("loss", "minimize"))
    e.stop()
"""


def run(program, *args, cwd):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([str(program), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def trimmed(text):
    return [line.rstrip() for line in text.splitlines()]


def test_the_installed_keepsake_command_reads_like_keepsake(tmp_path):
    venv = Path(require_env("KEEPSAKE_VENV"))
    project = tmp_path / "project"
    subprocess.run(["bash", str(ROOT / "fixtures/make-git-project.sh"), str(project), "--no-git"], check=True)
    (project / "keepsake.yaml").write_text("repository: file://.keepsake\n")
    proc = run_python(RECORD, cwd=project)
    assert proc.returncode == 0, proc.stderr
    ours, theirs = BIN / "keepsake", venv / "bin/keepsake"
    version = run(ours, "--version", cwd=project)
    assert version.returncode == 0 and "git-keepsake" in version.stdout, version

    mine, real = run(ours, "ls", "--json", cwd=project), run(theirs, "ls", "--json", cwd=project)
    assert (mine.returncode, real.returncode) == (0, 0), (mine.stderr, real.stderr)
    assert mine.stdout == real.stdout  # keys, key order and values
    listed = json.loads(mine.stdout)
    assert len(listed) == 2
    for args in (["ls"], ["ls", "--all"], ["ps"]):
        mine, real = run(ours, *args, cwd=project), run(theirs, "--color=false", *args, cwd=project)
        assert (mine.returncode, trimmed(mine.stdout)) == (real.returncode, trimmed(real.stdout)), args
    first = listed[0]["id"]

    # The delete prompt with a closed stdin, then `rm -f`: what Keepsake then lists.
    mine, real = run(ours, "rm", first, cwd=project), run(theirs, "--color=false", "rm", first, cwd=project)
    assert (mine.returncode, mine.stdout) == (real.returncode, real.stdout) == (1, mine.stdout)
    assert "Do you want to continue? (y/N) " in mine.stdout
    assert run(ours, "delete", "-f", first, cwd=project).returncode == 0
    left = run(theirs, "ls", "-q", cwd=project).stdout.split()
    assert len(left) == 1 and first not in left
