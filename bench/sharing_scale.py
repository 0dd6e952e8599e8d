"""Push and pull at team scale: `git keepsake push origin --all` and `pull` of N metadata-only
experiments of M checkpoints, against a plain `git push` / `git fetch` of the same refs and notes,
into fresh bare remotes on this machine. Writes bench/SHARING-RESULTS.md. See bench/README.md.

    python3 bench/sharing_scale.py [--sizes 2000x10,3000x1,10000x1] [--runs 3] [--bin PATH]

The experiments are written by the ignored test `generate_for_bench` in tests/runner/sharing/scale.rs (one
template recorded through the core, copied with fresh IDs by `git fast-import`).
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# With AWS_ENDPOINT (and credentials) set to an S3-compatible server with a `keepsake-test`
# bucket, pushes also go to a remote whose store is there.
S3 = bool(os.environ.get("AWS_ENDPOINT"))
ENV = dict(
    os.environ,
    KEEPSAKE_NO_ANALYTICS="1",
    GIT_CONFIG_NOSYSTEM="1",
    GIT_CONFIG_GLOBAL="/dev/null",
    TZ="UTC",
    LC_ALL="C",
)


def sh(*args, cwd=None, env=None):
    subprocess.run([str(a) for a in args], check=True, cwd=cwd, env=env or ENV,
                   stdout=subprocess.DEVNULL)


def timed(*args, cwd):
    t = time.perf_counter()
    p = subprocess.run([str(a) for a in args], cwd=cwd, env=ENV, capture_output=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{args} failed: {p.stderr.decode()[-2000:]}")
    return wall


def generate(dir, n, m):
    env = dict(ENV, KEEPSAKE_BENCH_DIR=str(dir), KEEPSAKE_BENCH_EXPERIMENTS=str(n),
               KEEPSAKE_BENCH_CHECKPOINTS=str(m))
    sh("cargo", "test", "-q", "--test", "runner", "sharing::scale::generate_for_bench", "--", "--ignored",
       "--exact", cwd=ROOT, env=env)


def bare(path, project, name, store=None):
    sh("git", "init", "-q", "--bare", "-b", "main", path)
    sh("git", "remote", "add", name, path, cwd=project)
    sh("git", "push", "-q", name, "main", cwd=project)
    if store:
        url = store if str(store).startswith("s3://") else f"file://{store}"
        sh("git", "config", f"remote.{name}.keepsakeStore", url, cwd=project)


def clone(remote, path, store=None):
    sh("git", "clone", "-q", remote, path)
    if store:
        sh("git", "config", "remote.origin.keepsakeStore", f"file://{store}", cwd=path)


def scenario(binary, work, n, m, runs):
    project = work / "project"
    generate(project, n, m)
    # The store the project records into, shared with the remotes that set none.
    (project / "keepsake.yaml").write_text("repository: file://.keepsake\n")
    refs = ["refs/keepsake/experiments/*:refs/keepsake/experiments/*",
            "refs/notes/keepsake:refs/notes/keepsake"]
    rows = {k: [] for k in ["git push", "push (own store)", "push (shared store)", "git fetch",
                            "pull", "push (S3 store)"]}
    for r in range(runs):
        # Alternating: the plain git push, then ours with the remote's own store (every
        # experiment's metadata copied into it), then ours with a shared store (nothing copied).
        bare(work / f"git{r}.git", project, f"git{r}")
        rows["git push"].append(timed("git", "push", "-q", "--atomic", f"git{r}", *refs,
                                      cwd=project))
        store = work / f"store{r}"
        bare(work / f"own{r}.git", project, f"own{r}", store)
        rows["push (own store)"].append(timed(binary, "push", f"own{r}", "--all", cwd=project))
        bare(work / f"shared{r}.git", project, f"shared{r}")
        rows["push (shared store)"].append(timed(binary, "push", f"shared{r}", "--all",
                                                 cwd=project))
        if S3:
            # The remote's store on the S3-compatible server: every metadata copy is a request.
            bare(work / f"s3{r}.git", project, f"s3{r}",
                 f"s3://keepsake-test/bench-{os.getpid()}-{n}x{m}-{r}")
            rows["push (S3 store)"].append(timed(binary, "push", f"s3{r}", "--all", cwd=project))
        clone(work / f"own{r}.git", work / f"fetcher{r}")
        rows["git fetch"].append(timed("git", "fetch", "-q", "origin", *refs,
                                       cwd=work / f"fetcher{r}"))
        clone(work / f"own{r}.git", work / f"puller{r}", store)
        rows["pull"].append(timed(binary, "pull", "origin", cwd=work / f"puller{r}"))
        for d in [f"git{r}.git", f"shared{r}.git", f"fetcher{r}", f"puller{r}"]:
            shutil.rmtree(work / d)
    return {k: statistics.median(v) if v else float("nan") for k, v in rows.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000x10,3000x1,10000x1")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default=str(ROOT / "target/release/git-keepsake"))
    args = ap.parse_args()
    binary = Path(args.bin).resolve()
    if not binary.exists():
        sh("cargo", "build", "--release", "-q", "--bin", "git-keepsake", cwd=ROOT)
    lines = [
        "# Push and pull at scale",
        "",
        f"`python3 bench/sharing_scale.py --sizes {args.sizes} --runs {args.runs}`, "
        f"binary `{binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary}`; "
        f"{platform.platform()}, {os.cpu_count()} CPUs, {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}.",
        "Metadata-only experiments, remotes are bare repositories on the same disk, the remote's own "
        "store a local directory (or, last column, moto's S3 server on 127.0.0.1 when AWS_ENDPOINT "
        "is set). Medians of the runs, seconds; the ratio is to the plain git command.",
        "",
        "| experiments x checkpoints | git push | push (own store) | push (shared store) | git fetch | pull | push (S3 store) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes.split(","):
        n, m = (int(x) for x in size.split("x"))
        with tempfile.TemporaryDirectory() as tmp:
            r = scenario(binary, Path(tmp), n, m, args.runs)
        row = (f"| {n} x {m} | {r['git push']:.2f} | {r['push (own store)']:.2f} "
               f"({r['push (own store)'] / r['git push']:.1f}x) | {r['push (shared store)']:.2f} "
               f"({r['push (shared store)'] / r['git push']:.1f}x) | {r['git fetch']:.2f} | "
               f"{r['pull']:.2f} ({r['pull'] / r['git fetch']:.1f}x) | "
               f"{r['push (S3 store)']:.2f} ({r['push (S3 store)'] / r['git push']:.1f}x) |")
        print(row, flush=True)
        lines.append(row)
    out = ROOT / "bench" / "SHARING-RESULTS.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
