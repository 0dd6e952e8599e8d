"""What `keepsake.init(path=".")` puts into git: git's ignore rules and `git_max_file_size` keep
files out of the experiment's git tree (they stay in the store's tarball), and one warning on
stderr names the biggest file left out for its size."""

import json
import subprocess

from conftest import ks, run_python

INIT = """
import keepsake
exp = keepsake.init(path=".", params={"lr": 0.1})
exp.stop()
print(exp.id)
"""


def tree(project, exp_id):
    out = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", f"refs/keepsake/experiments/{exp_id}"],
        cwd=project, capture_output=True, text=True, check=True,
    )
    return out.stdout.split()


def test_gitignored_and_large_files_stay_out_of_git_with_one_warning(project, tmp_path):
    (project / "keepsake.yaml").write_text("repository: file://.keepsake\ngit_max_file_size: 1KiB\n")
    with open(project / ".gitignore", "a") as f:
        f.write(".env\n.keepsake/\n")
    (project / ".env").write_text("AWS_SECRET_ACCESS_KEY=py-secret-5e1b\n")
    (project / "data" / "big.bin").write_bytes(b"\x01" * 5000)
    (project / "data" / "bigger.bin").write_bytes(b"\x02" * 9000)

    proc = run_python(INIT, cwd=project)
    assert proc.returncode == 0, proc.stderr
    exp_id = proc.stdout.strip()
    warnings = [line for line in proc.stderr.splitlines() if "left out of git" in line]
    assert len(warnings) == 1, proc.stderr
    # Through Python's `warnings`, as a KeepsakeWarning.
    assert "KeepsakeWarning: `data/bigger.bin` (8.8 KiB) and 1 other file" in warnings[0], warnings
    assert ".env" not in proc.stderr

    files = tree(project, exp_id)
    assert "train.py" in files and "keepsake.yaml" in files
    assert ".env" not in files and "data/big.bin" not in files and "data/bigger.bin" not in files
    shown = json.loads(ks("show", "--json", exp_id, cwd=project).stdout)
    assert [(f["path"], f["reason"]) for f in shown["store_only"]] == [
        (".env", "ignored"), ("data/big.bin", "too large"), ("data/bigger.bin", "too large"),
    ]

    out = tmp_path / "out"
    ks("checkout", exp_id, "-o", str(out), cwd=project)
    assert (out / ".env").read_text() == "AWS_SECRET_ACCESS_KEY=py-secret-5e1b\n"
    assert (out / "data" / "bigger.bin").read_bytes() == b"\x02" * 9000


def test_ignored_files_alone_give_no_warning(project):
    with open(project / ".gitignore", "a") as f:
        f.write(".env\n")
    (project / ".env").write_text("TOKEN=abc\n")
    proc = run_python(INIT, cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    assert ".env" not in tree(project, proc.stdout.strip())
