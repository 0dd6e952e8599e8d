"""Time to first full render of the dashboard's experiments page (`git keepsake ui`), at 1,000
and 10,000 experiments, beside `ls` and `ls --json` on the same project. Run by hand (timings
are never asserted); writes bench/UI-RESULTS.md.

    .ci-work/venv-tools/bin/python bench/ui_render.py [--sizes 1000,10000] [--runs 5] [--bin PATH]

Needs selenium (scripts/test-requirements.txt) and Debian's chromium + chromedriver
(scripts/setup-test-env.sh). The projects are written by the ignored test `generate_for_bench`
(tests/runner/sharing/scale.rs), 3 checkpoints per experiment. "First full render" is the time
from the start of navigation to the moment the app has built the table's first page (the page's
own `performance.now()` then: HTML, JS, `/api/experiments`, JSON parsing and the DOM), in a fresh
headless chromium tab each run, the server warm (one load before the runs)."""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "web"))
from conftest import chrome, env_for  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def generate(d, n, m):
    env = dict(os.environ, KEEPSAKE_BENCH_DIR=str(d), KEEPSAKE_BENCH_EXPERIMENTS=str(n),
               KEEPSAKE_BENCH_CHECKPOINTS=str(m))
    subprocess.run(["cargo", "test", "-q", "--test", "runner", "sharing::scale::generate_for_bench",
                    "--", "--ignored", "--exact"], cwd=ROOT, env=env, check=True, capture_output=True)


def timed(args, cwd, env):
    t = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "git-keepsake"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "UI-RESULTS.md"))
    args = ap.parse_args()
    if args.bin == str(ROOT / "target" / "release" / "git-keepsake"):
        subprocess.run(["cargo", "build", "--release", "-q", "--bin", "git-keepsake"], cwd=ROOT, check=True)
    tmp = Path(tempfile.mkdtemp(prefix="keepsake-ui-bench-"))
    lines = [
        "# Dashboard: time to first full render",
        "",
        f"`python bench/ui_render.py --sizes {args.sizes} --runs {args.runs}`; {platform.platform()}, "
        f"{os.cpu_count()} CPUs; medians of {args.runs} runs (min–max), seconds.",
        "",
        "| experiments x checkpoints | `ls` | `ls --json` | `GET /api/experiments` | page: first full render |",
        "|---|---|---|---|---|",
    ]
    for n in [int(s) for s in args.sizes.split(",")]:
        d = tmp / f"p{n}"
        generate(d, n, 3)
        env = env_for(d)
        ls = [timed([args.bin, "ls"], d, env) for _ in range(args.runs)]
        ls_json = [timed([args.bin, "ls", "--json"], d, env) for _ in range(args.runs)]
        server = subprocess.Popen([args.bin, "ui"], cwd=d, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        url = server.stdout.readline().strip()
        try:
            api = []
            for _ in range(args.runs):
                t = time.perf_counter()
                urllib.request.urlopen(url + "api/experiments").read()
                api.append(time.perf_counter() - t)
            page = []
            driver = chrome(tmp, f"chrome-{n}-")
            try:
                driver.get(url)  # warm
                WebDriverWait(driver, 300).until(lambda dr: dr.execute_script("return document.body.dataset.readyAt"))
                for _ in range(args.runs):
                    driver.get("about:blank")
                    driver.get(url)
                    WebDriverWait(driver, 300).until(lambda dr: dr.execute_script("return document.body.dataset.readyAt"))
                    rows = driver.execute_script("return document.querySelectorAll('#experiments tbody tr').length")
                    total = driver.execute_script("return document.getElementById('row-count').dataset.total")
                    assert total == str(n) and rows == min(n, 100), (total, rows)
                    page.append(int(driver.execute_script("return document.body.dataset.readyAt")) / 1000)
            finally:
                driver.quit()
        finally:
            server.kill()
            server.wait()
        fmt = lambda xs: f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"
        lines.append(f"| {n:,} x 3 | {fmt(ls)} | {fmt(ls_json)} | {fmt(api)} | {fmt(page)} |")
        print(lines[-1], flush=True)
    # The compare page at its limit: 20 experiments of 1,000 checkpoints, two metrics each.
    d = tmp / "compare"
    generate(d, 20, 1000)
    env = env_for(d)
    ids = subprocess.run([args.bin, "ls", "-q"], cwd=d, env=env, check=True, capture_output=True,
                         text=True).stdout.split()
    server = subprocess.Popen([args.bin, "ui"], cwd=d, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    url = server.stdout.readline().strip() + "#/compare/" + ",".join(ids)
    times = []
    try:
        driver = chrome(tmp, "chrome-compare-")
        try:
            for i in range(args.runs + 1):
                driver.get("about:blank")
                driver.get(url)
                WebDriverWait(driver, 300).until(lambda dr: dr.execute_script("return document.body.dataset.readyAt"))
                paths = driver.execute_script("return document.querySelectorAll('#compare-charts path.series').length")
                assert paths == 2 * len(ids), paths
                if i:
                    times.append(int(driver.execute_script("return document.body.dataset.readyAt")) / 1000)
        finally:
            driver.quit()
    finally:
        server.kill()
        server.wait()
    lines += ["", f"Compare page, 20 experiments x 1,000 checkpoints (2 metrics: 40 SVG paths of 1,000 "
              f"points): first full render {statistics.median(times):.3f} s "
              f"({min(times):.3f}–{max(times):.3f})."]
    print(lines[-1], flush=True)
    lines += ["", "The page shows 100 rows at a time (pages of 50 to 1,000); the whole listing is "
              "read once and paged, sorted by the server with `ls`'s own sort."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
