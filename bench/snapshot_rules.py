"""What git's ignore rules and the size limit cost `init(path=".")`, and what they save.

    python3 bench/snapshot_rules.py NAME=PYTHON [NAME=PYTHON ...] [--files 5000] [--big-mb 150] [--runs 5]

Each PYTHON is an interpreter with a `keepsake` package (say, release builds of two commits).
Two projects in git: 5,000 source files in 50 packages (a `.gitignore` at the root and one in
every package, a few ignored files), then the same plus one large data file. Prints, per
interpreter and project, the median time of `init()` (the tools alternating, run after run) and
the bytes in `.git/objects` after all runs. Nothing is asserted."""

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

INIT = """
import json, time, keepsake
t = time.perf_counter()
e = keepsake.init(path=".", params={"bench": True})
took = time.perf_counter() - t
e.stop()
print(json.dumps({"init": took}))
"""


def make(d, files, big_mb):
    (d / "src").mkdir(parents=True)
    (d / ".gitignore").write_text(".keepsake/\n*.log\n.env\nbuild/\n")
    for p in range(50):
        sub = d / "src" / f"pkg{p}"
        sub.mkdir()
        (sub / ".gitignore").write_text("*.cache\n")
        (sub / "notes.cache").write_text("cached\n")
    for i in range(files):
        (d / "src" / f"pkg{i % 50}" / f"module{i}.py").write_text(f"# module {i}\n" + "def f(x):\n    return x * %d\n" % i * 5)
    (d / ".env").write_text("TOKEN=x\n")
    (d / "run.log").write_text("log\n")
    if big_mb:
        (d / "data").mkdir()
        with open(d / "data" / "big.bin", "wb") as f:
            chunk = __import__("random").Random(1).randbytes(1 << 20)  # incompressible, as weights
            for _ in range(big_mb):
                f.write(chunk)
    (d / "keepsake.yaml").write_text('repository: "file://.keepsake"\n')
    subprocess.run(["git", "init", "-q", str(d)], check=True)


def du(p):
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tools", nargs="+")
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--big-mb", type=int, default=150)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tools = dict(t.split("=", 1) for t in args.tools)
    env = {"KEEPSAKE_NO_ANALYTICS": "1", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}
    for label, big in [(f"{args.files} files", 0), (f"{args.files} files + {args.big_mb} MB file", args.big_mb)]:
        with tempfile.TemporaryDirectory() as tmp:
            dirs = {}
            for name in tools:
                dirs[name] = Path(tmp) / name
                make(dirs[name], args.files, big)
            times = {name: [] for name in tools}
            for _ in range(args.runs):
                for name, python in tools.items():
                    out = subprocess.run([python, "-c", INIT], cwd=dirs[name], env=env, capture_output=True, text=True, check=True)
                    times[name].append(json.loads(out.stdout.strip().splitlines()[-1])["init"])
            for name in tools:
                git = du(dirs[name] / ".git" / "objects")
                print(f"{label:32} {name:10} init() median {statistics.median(times[name]):.3f} s "
                      f"(runs: {', '.join(f'{t:.3f}' for t in times[name])}), .git/objects {git / 2**20:.1f} MiB")
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
