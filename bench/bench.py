"""Benchmarks git-keepsake against the real Keepsake 0.4.2 on identical work, alternating the two
tools, several runs each, and writes bench/RESULTS.md. See bench/README.md.

    python3 bench/bench.py [--quick] [--runs N] [--only recording,listing,checkout,snapshots,growth]
"""

import argparse
import json
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
BENCH = ROOT / "bench"
WORK = ROOT / ".ci-work"
KEEPSAKE_VENV = WORK / "venv-keepsake"
OURS_VENV = WORK / "venv-bench"
OURS_BIN = ROOT / "target" / "release" / "git-keepsake"

ENV = dict(os.environ, KEEPSAKE_NO_ANALYTICS="1", GIT_CONFIG_NOSYSTEM="1")


def sh(*args, **kwargs):
    return subprocess.run([str(a) for a in args], check=True, **kwargs)


def setup():
    """Keepsake 0.4.2 and numpy in one virtual environment, this package (release build) and numpy
    in another, and the release binary."""
    sh("bash", ROOT / "scripts/setup-test-env.sh", cwd=ROOT)
    if not (OURS_VENV / "bin/python").exists():
        sh(sys.executable, "-m", "venv", OURS_VENV)
        sh(OURS_VENV / "bin/pip", "install", "-q", "numpy==2.4.6")
    sh(OURS_VENV / "bin/pip", "install", "-q", "--force-reinstall", "--no-deps", ROOT / "crates/keepsake-py")
    sh("cargo", "build", "--release", "-q", cwd=ROOT)


def run_timed(args, cwd, env=None):
    """Runs a command; returns (wall seconds, peak RSS in MB of it and the children it waited
    for, stdout)."""
    # Output goes to files, not pipes: waiting with wait4 (for the rusage) on a child that fills
    # a pipe nobody reads would never end.
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        t = time.perf_counter()
        proc = subprocess.Popen([str(a) for a in args], cwd=cwd, env=env or ENV, stdout=out_f, stderr=err_f)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out.decode()


def project_dir(base, name, git, compression=None):
    d = Path(base) / name
    d.mkdir(parents=True)
    shutil.copy(BENCH / "record_script.py", d / "train.py")
    yaml = 'repository: "file://.keepsake"\n'
    if compression:
        yaml += f"compression: {compression}\n"
    (d / "keepsake.yaml").write_text(yaml)
    if git:
        sh("git", "init", "-q", d)
        (d / ".gitignore").write_text(".keepsake/\nmodel.pth\n")
    return d


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))] if xs else float("nan")


# ------------------------------------------------------------------------------ scenarios

def bench_recording(runs, n, mb, tmp):
    tools = {
        "Keepsake 0.4.2": (KEEPSAKE_VENV / "bin/python", False, None),
        "git-keepsake (gzip)": (OURS_VENV / "bin/python", True, None),
        "git-keepsake (zstd)": (OURS_VENV / "bin/python", True, "zstd"),
    }
    results = {name: {"block": [], "p99": [], "total": [], "rss": []} for name in tools}
    for r in range(runs):
        for name, (python, git, compression) in tools.items():
            d = project_dir(tmp, f"rec-{r}-{len(results[name]['total'])}-{name.split()[0]}-{compression}", git, compression)
            os.sync()  # the previous run's writes are not this one's to wait for
            wall, rss, out = run_timed([python, "train.py", n, mb], d)
            # Durable: what the process left in the page cache still has to reach the disk.
            t = time.perf_counter()
            os.sync()
            wall += time.perf_counter() - t
            blocked = json.loads(out.strip().splitlines()[-1])["blocked"]
            results[name]["block"].append(median(blocked) * 1000)
            results[name]["p99"].append(p99(blocked) * 1000)
            results[name]["total"].append(wall)
            results[name]["rss"].append(rss)
            shutil.rmtree(d)
    # Without files: what checkpoint() costs the loop when there is nothing to save.
    for name in ["Keepsake 0.4.2", "git-keepsake (gzip)"]:
        python, git, _ = tools[name]
        d = project_dir(tmp, f"nofiles-{name.split()[0]}", git)
        script = (
            "import json, time, keepsake\n"
            "e = keepsake.init(params={'a': 1})\n"
            "b = []\n"
            "for i in range(200):\n"
            "    t = time.perf_counter(); e.checkpoint(step=i, metrics={'loss': 1.0 / (i + 1)}, quiet=True); b.append(time.perf_counter() - t)\n"
            "e.stop()\n"
            "print(json.dumps(b))\n"
        )
        _, _, out = run_timed([python, "-c", script], d)
        results[name]["nofiles"] = median(json.loads(out.strip().splitlines()[-1])) * 1000
        shutil.rmtree(d)
    return results


def bench_growth(sizes, ours_only, tmp):
    """Time until n checkpoints (no files) are saved, for each n: flat per checkpoint, or
    growing with the checkpoints already saved. One run each (Keepsake's take minutes)."""
    rows = []
    for n in sizes:
        row = {}
        for name, python, git in [("Keepsake 0.4.2", KEEPSAKE_VENV / "bin/python", False), ("git-keepsake", OURS_VENV / "bin/python", True)]:
            if name.startswith("Keepsake") and n in ours_only:
                continue
            d = project_dir(tmp, f"growth-{n}-{name.split()[0]}", git)
            shutil.copy(BENCH / "growth_script.py", d / "growth.py")
            _, _, out = run_timed([python, "growth.py", n], d)
            row[name] = json.loads(out.strip().splitlines()[-1])["seconds"]
            shutil.rmtree(d)
        rows.append((n, row))
    return rows


def gen_listing(base, name, n, m, ours):
    d = Path(base) / name
    sh(sys.executable, BENCH / "gen_listing.py", d, n, m)
    if ours:
        sh("git", "init", "-q", d)
        sh(OURS_BIN, "import", cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sh("git", "pack-refs", "--all", cwd=d)
    return d


def time_command(args, cwd, runs):
    """Median wall time of `runs` warm runs (after one warm-up)."""
    run_timed(args, cwd)
    return median([run_timed(args, cwd)[0] for _ in range(runs)])


def bench_listing(runs, sizes, tmp):
    results = []
    for n, m in sizes:
        theirs = gen_listing(tmp, f"list-k-{n}x{m}", n, m, False)
        ours = gen_listing(tmp, f"list-o-{n}x{m}", n, m, True)
        for args in (["ls"], ["ls", "--json"]):
            k, o = [], []
            for _ in range(runs):  # alternating the tools
                k.append(time_command([KEEPSAKE_VENV / "bin/keepsake", *args], theirs, 1))
                o.append(time_command([OURS_BIN, *args], ours, 1))
            results.append((f"`{' '.join(args)}` {n} x {m}", median(k), median(o)))
        shutil.rmtree(theirs)
        shutil.rmtree(ours)
    return results


def bench_show(runs, checkpoints, tmp):
    theirs = gen_listing(tmp, "show-k", 1, checkpoints, False)
    ours = gen_listing(tmp, "show-o", 1, checkpoints, True)
    exp_id = next((theirs / ".keepsake/metadata/experiments").iterdir()).stem
    k, o = [], []
    for _ in range(runs):
        k.append(time_command([KEEPSAKE_VENV / "bin/keepsake", "show", exp_id], theirs, 1))
        o.append(time_command([OURS_BIN, "show", exp_id], ours, 1))
    shutil.rmtree(theirs)
    shutil.rmtree(ours)
    return (f"`show` of 1 x {checkpoints}", median(k), median(o))


def bench_checkout(runs, mb, tmp):
    out = {}
    for name, python, git, cli in [
        ("Keepsake 0.4.2", KEEPSAKE_VENV / "bin/python", False, [KEEPSAKE_VENV / "bin/keepsake", "checkout", "-f", "-o"]),
        ("git-keepsake", OURS_VENV / "bin/python", True, None),
    ]:
        d = project_dir(tmp, f"co-{name.split()[0]}", git)
        run_timed([python, "train.py", 1, mb], d)
        (d / "model.pth").unlink()
        chk = json.loads(subprocess.run([str(KEEPSAKE_VENV / "bin/keepsake") if not git else str(OURS_BIN), "ls", "--json"], cwd=d, env=ENV, capture_output=True, check=True).stdout)[0]["latest_checkpoint"]["id"]
        times, rss = [], []
        for r in range(runs):
            dest = Path(tmp) / f"co-out-{name.split()[0]}-{r}"
            args = [*cli, dest, chk] if cli else [OURS_BIN, "checkout", chk, "-o", dest]
            wall, peak, _ = run_timed(args, d)
            times.append(wall)
            rss.append(peak)
            shutil.rmtree(dest)
        out[name] = {"seconds": median(times), "mb_s": mb / median(times), "rss": max(rss)}
        shutil.rmtree(d)
    return out


def bench_snapshots(experiments, files, data_mb, tmp):
    out = {}
    for name, python, git in [("Keepsake 0.4.2", KEEPSAKE_VENV / "bin/python", False), ("git-keepsake", OURS_VENV / "bin/python", True)]:
        d = Path(tmp) / f"snap-{name.split()[0]}"
        (d / "src").mkdir(parents=True)
        for i in range(files):
            sub = d / "src" / f"pkg{i % 50}"
            sub.mkdir(exist_ok=True)
            (sub / f"module{i}.py").write_text(f"# module {i}\n" + "def f(x):\n    return x * %d\n" % i * 5)
        (d / "data").mkdir()
        rng = __import__("random").Random(1)
        for i in range(data_mb // 10):
            (d / "data" / f"part{i}.bin").write_bytes(rng.randbytes(10 << 20))
        shutil.copy(BENCH / "init_script.py", d / "init_script.py")
        (d / "keepsake.yaml").write_text('repository: "file://.keepsake"\n')
        if git:
            sh("git", "init", "-q", d)
            (d / ".gitignore").write_text(".keepsake/\n")
        inits = []
        for _ in range(experiments):
            _, _, stdout = run_timed([python, "init_script.py"], d)
            inits.append(json.loads(stdout.strip().splitlines()[-1])["init"])
        store = sum(p.stat().st_size for p in (d / ".keepsake").rglob("*") if p.is_file())
        git_bytes = sum(p.stat().st_size for p in (d / ".git/objects").rglob("*") if p.is_file()) if git else 0
        out[name] = {"init": median(inits), "store": store, "git": git_bytes}
        shutil.rmtree(d)
    return out


# ------------------------------------------------------------------------------ report

def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB memory, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def ratio(theirs, ours):
    return f"{theirs / ours:.1f}x" if ours > 0 else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a trial run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="recording,listing,checkout,snapshots,growth")
    ap.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = ap.parse_args()
    only = set(args.only.split(","))
    q = args.quick
    setup()
    lines = ["# Benchmark results", "", f"Machine: {machine()}.", "",
             f"Command: `python3 bench/bench.py{' --quick' if q else ''} --runs {args.runs}`; medians of {args.runs} runs, the tools alternating.", ""]
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        if "recording" in only:
            n, mb = (20, 10) if q else (100, 50)
            rec = bench_recording(args.runs, n, mb, tmp)
            k = rec["Keepsake 0.4.2"]
            lines += [f"## Recording: {n} checkpoints of a {mb} MB weight file", "",
                      "| tool | checkpoint() blocks (median) | p99 | without files | total until durably stored | peak memory |",
                      "|---|---|---|---|---|---|"]
            for name, r in rec.items():
                nf = f"{r['nofiles']:.2f} ms" if "nofiles" in r else ""
                lines.append(f"| {name} | {median(r['block']):.1f} ms | {median(r['p99']):.1f} ms | {nf} | {median(r['total']):.2f} s ({ratio(median(k['total']), median(r['total']))}) | {median(r['rss']):.0f} MB |")
            lines.append("")
        os.sync()  # what the scenario before left to write is not this one's to wait for
        if "listing" in only:
            sizes = [(100, 100), (300, 100), (1000, 10)] if q else [(100, 100), (1000, 100), (10000, 10)]
            rows = bench_listing(args.runs, sizes, tmp)
            rows.append(bench_show(args.runs, 1000 if q else 10000, tmp))
            lines += ["## Listing (warm)", "", "| command | Keepsake 0.4.2 | git-keepsake | ratio |", "|---|---|---|---|"]
            for label, k, o in rows:
                lines.append(f"| {label} | {k * 1000:.0f} ms | {o * 1000:.0f} ms | {ratio(k, o)} |")
            lines.append("")
        os.sync()
        if "checkout" in only:
            mb = 200 if q else 1024
            co = bench_checkout(args.runs, mb, tmp)
            lines += [f"## Checkout of one {mb} MB checkpoint", "", "| tool | time | throughput | peak memory |", "|---|---|---|---|"]
            for name, r in co.items():
                lines.append(f"| {name} | {r['seconds']:.2f} s | {r['mb_s']:.0f} MB/s | {r['rss']:.0f} MB |")
            lines.append("")
        os.sync()
        if "snapshots" in only:
            exps, files, data = (3, 1000, 50) if q else (10, 5000, 200)
            sn = bench_snapshots(exps, files, data, tmp)
            lines += [f"## Code snapshots: {exps} experiments of a project with {files} source files and {data} MB of data", "",
                      "| tool | init() (median) | bytes in the store | bytes in git |", "|---|---|---|---|"]
            for name, r in sn.items():
                lines.append(f"| {name} | {r['init']:.2f} s | {r['store'] / 2**20:.0f} MiB | {r['git'] / 2**20:.1f} MiB |")
            lines.append("")
        os.sync()
        # Last: Keepsake's long growth runs leave the disk busy for what would follow.
        if "growth" in only:
            sizes, ours_only = ([100, 400], []) if q else ([250, 1000, 10000], [10000])
            rows = bench_growth(sizes, ours_only, tmp)
            lines += ["## Checkpoint cost as checkpoints accumulate (no files; one run each)", "",
                      "| checkpoints | Keepsake 0.4.2: total, per checkpoint | git-keepsake: total, per checkpoint |", "|---|---|---|"]
            for n, row in rows:
                cells = []
                for name in ["Keepsake 0.4.2", "git-keepsake"]:
                    t = row.get(name)
                    cells.append(f"{t:.2f} s, {t / n * 1000:.2f} ms" if t is not None else "not run (quadratic: hours)")
                lines.append(f"| {n} | {cells[0]} | {cells[1]} |")
            lines.append("")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
