"""The `keepsake` command that pip installs next to `git-keepsake`: Keepsake 0.4.2's command line
over this package, reading what this package's Python API recorded the way the real Keepsake 0.4.2
CLI reads it, in a storage-only project (no git) as Keepsake users have them."""

import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import BIN, ROOT, ks, require_env, run_python

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


SEE_ALL = """
import json, keepsake
listed = keepsake.experiments.list()
a = keepsake.experiments.get({a!r})
out = keepsake.Project().experiments.list()
a.checkpoints[1].checkout(output_directory="restored", quiet=True)
print(json.dumps({{
    "ids": sorted(e.id for e in listed),
    "project_ids": sorted(e.id for e in out),
    "a_checkpoints": [c.id for c in a.checkpoints],
    "a_params": a.params,
}}))
"""


def test_a_keepsake_users_git_project_is_seen_whole_by_the_python_api(tmp_path):
    """The usual upgrade: a git project whose store the real Keepsake 0.4.2 wrote, some of it
    imported, one experiment never, one recorded by this package: the API lists what Keepsake
    lists (plus nothing), gets and checks out the never-imported one from the store."""
    venv = Path(require_env("KEEPSAKE_VENV"))
    project = tmp_path / "project"
    shutil.copytree(ROOT / "fixtures/keepsake-0.4.2/project", project)
    ids = dict(line.split("=", 1) for line in (ROOT / "fixtures/keepsake-0.4.2/fixture-ids.env").read_text().split())
    (project / ".gitignore").write_text(".keepsake/\nw.bin\n")
    git = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "Keepsake project"]):
        subprocess.run(git + args, cwd=project, check=True)
    meta = project / ".keepsake/metadata/experiments" / f"{ids['EXP_A']}.json"
    aside = tmp_path / "a.json"
    meta.rename(aside)
    assert run(BIN / "git-keepsake", "import", cwd=project).returncode == 0
    aside.rename(meta)
    env = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}
    proc = run_python(RECORD, cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr

    real = run(venv / "bin/keepsake", "ls", "--json", cwd=project)
    assert real.returncode == 0, real.stderr
    theirs = sorted(e["id"] for e in json.loads(real.stdout))
    assert len(theirs) == 5 and ids["EXP_A"] in theirs
    # git keepsake still lists git's alone: the never-imported one is not there.
    assert ids["EXP_A"] not in ks("ls", "-q", cwd=project).stdout

    proc = run_python(SEE_ALL.format(a=ids["EXP_A"][:7]), cwd=project)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["ids"] == seen["project_ids"] == theirs
    assert seen["a_checkpoints"] == [ids[f"CHK_A{n}"] for n in range(4)]
    assert seen["a_params"]["optimizer"] == "adam"
    restored = sorted(str(p.relative_to(project / "restored")) for p in (project / "restored").rglob("*") if p.is_file())
    assert "checkpoints/weights.txt" in restored, restored
