"""The dashboard's browser tests: `git keepsake ui` and `git keepsake report` driven in Debian's
headless chromium through chromedriver (selenium), on projects built by the fixture scripts.

Run by scripts/test-all.sh after `cargo test` (which builds target/debug/git-keepsake) and after
the keepsake package is built into the tools venv (tests/web/record_runs.py records with it).
KEEPSAKE_BIN overrides the binary. Screenshots go to .ci-work/screenshots/."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("KEEPSAKE_BIN", str(ROOT / "target" / "debug" / "git-keepsake"))
SHOTS = ROOT / ".ci-work" / "screenshots"


def env_for(home):
    return dict(
        os.environ,
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        TZ="UTC",
        LC_ALL="C",
        KEEPSAKE_NO_ANALYTICS="1",
    )


class Project:
    def __init__(self, path):
        self.path = Path(path)
        self.env = env_for(self.path)

    def ks(self, *args, check=True):
        p = subprocess.run([BIN, *args], cwd=self.path, env=self.env, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"git keepsake {' '.join(args)}: {p.returncode}\n{p.stderr}")
        return p

    def ids(self, *args):
        return self.ks("ls", "-q", *args).stdout.split()


def make_project(path):
    subprocess.run(["bash", str(ROOT / "fixtures" / "make-git-project.sh"), str(path)], check=True,
                   capture_output=True)
    return Project(path)


@pytest.fixture(scope="session")
def tmp_root():
    d = tempfile.mkdtemp(prefix="keepsake-web-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def project(tmp_root):
    """Four runs of tests/web/record_runs.py, recorded with the keepsake package."""
    p = make_project(tmp_root / "project")
    python = os.environ.get("KEEPSAKE_PYTHON", sys.executable)
    subprocess.run([python, str(ROOT / "tests" / "web" / "record_runs.py")], cwd=p.path,
                   env=p.env, check=True, capture_output=True)
    assert len(p.ids()) == 4
    return p


@pytest.fixture(scope="session")
def big_project(tmp_root):
    """10,000 experiments of one checkpoint, written by the bench generator in one fast-import."""
    d = tmp_root / "big"
    env = dict(os.environ, KEEPSAKE_BENCH_DIR=str(d), KEEPSAKE_BENCH_EXPERIMENTS="10000",
               KEEPSAKE_BENCH_CHECKPOINTS="1")
    subprocess.run(["cargo", "test", "-q", "--test", "runner", "sharing::scale::generate_for_bench",
                    "--", "--ignored", "--exact"], cwd=ROOT, env=env, check=True, capture_output=True)
    return Project(d)


class Server:
    def __init__(self, project):
        self.proc = subprocess.Popen([BIN, "ui"], cwd=project.path, env=project.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session")
def server(project):
    s = Server(project)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def big_server(big_project):
    s = Server(big_project)
    yield s
    s.stop()


def chrome(tmp_root, name, offline=False):
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={tempfile.mkdtemp(prefix=name, dir=tmp_root)}"]:
        opts.add_argument(flag)
    if offline:
        # No name resolves and every connection goes to a proxy that is not there.
        opts.add_argument("--host-resolver-rules=MAP * ~NOTFOUND")
        opts.add_argument("--proxy-server=127.0.0.1:9")
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    d = webdriver.Chrome(options=opts, service=service)
    if offline:
        d.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    return d


@pytest.fixture(scope="session")
def browser(tmp_root):
    d = chrome(tmp_root, "chrome-")
    yield d
    d.quit()


@pytest.fixture(scope="session")
def offline_browser(tmp_root):
    d = chrome(tmp_root, "chrome-offline-", offline=True)
    yield d
    d.quit()


def open_page(driver, url, timeout=60):
    """Loads `url` and waits until the app says it has rendered (body[data-ready] changes)."""
    before = driver.execute_script("return document.body ? document.body.dataset.ready || '' : ''") \
        if driver.current_url.startswith(("http", "file")) else ""
    driver.get(url)
    wait_ready(driver, before, timeout)


def wait_ready(driver, before, timeout=60):
    WebDriverWait(driver, timeout).until(
        lambda d: (d.execute_script("return document.body.dataset.ready || ''") or "") not in ("", before))


def act(driver, fn, timeout=60):
    """Runs `fn` (a click, a key) and waits for the page it causes to render."""
    before = driver.execute_script("return document.body.dataset.ready || ''")
    fn()
    wait_ready(driver, before, timeout)


def row_ids(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#experiments tbody tr')].map(r => r.dataset.id)")


def screenshot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
