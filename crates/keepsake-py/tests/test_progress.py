"""Progress while `stop()` waits for uploads, through `sys.stderr` (issue 14): plain lines when
stderr is not a terminal (captured by pytest, a pipe, a log), one line rewritten with `\\r` on a
terminal, tqdm's bar when tqdm is installed. The store is the S3 server behind a proxy that
lets bytes through at 4 MB/s each way, so the wait lasts a few seconds whatever the machine."""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

import keepsake

from conftest import ROOT, require_env

RATE = 4 << 20  # bytes per second, each way
SIZE = 12 << 20  # the checkpoint: about 3 s through the proxy


class SlowProxy(threading.Thread):
    """A TCP proxy to the S3 server that holds each direction to RATE bytes a second."""

    def __init__(self, endpoint):
        super().__init__(daemon=True)
        host, port = endpoint.rsplit("//", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self.pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, True), daemon=True).start()

    def pump(self, src, dst, slow):
        started, sent = time.monotonic(), 0
        try:
            while True:
                data = src.recv(64 * 1024)
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
                if slow:
                    ahead = sent / RATE - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


@pytest.fixture
def slow_s3(project, monkeypatch):
    """The project's store on the S3 server through the slow proxy; the proxy's URL."""
    endpoint = require_env("KEEPSAKE_TEST_S3_ENDPOINT")
    proxy = SlowProxy(endpoint)
    proxy.start()
    (project / "keepsake.yaml").write_text(f"repository: s3://keepsake-test/progress-{uuid.uuid4().hex[:8]}\n")
    (project / "model.pth").write_bytes(os.urandom(SIZE))
    monkeypatch.setenv("AWS_ENDPOINT", proxy.url)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    yield proxy
    proxy.close()


SCRIPT = """
import sys
{before}
import keepsake
exp = keepsake.init(path="src", params={{"lr": 0.1}})
exp.checkpoint(path="model.pth", step=1, quiet=True)
exp.stop()
print("stopped", exp.id)
"""


def test_stop_waiting_writes_plain_lines_through_sys_stderr(slow_s3, capsys, monkeypatch):
    # tqdm, if this environment has it, is hidden: the plain display is the one shown.
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    exp = keepsake.init(path="src", params={"lr": 0.1})
    exp.checkpoint(path="model.pth", step=1, quiet=True)
    exp.stop()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "saving 1 checkpoint(s)" in line]
    # A first line when the wait passes a second, then the finished one: bytes, time, rate.
    assert len(lines) >= 2, err
    assert re.match(r"keepsake: saving 1 checkpoint\(s\): +\d+% [\d.]+ \w+/12\.0 MiB", lines[0]), lines
    assert re.fullmatch(r"keepsake: saving 1 checkpoint\(s\): 12\.0 MiB in \d+s \([\d.]+ \w+/s\)", lines[-1]), lines
    assert "\r" not in err and "\x1b" not in err, repr(err)
    assert len(exp.checkpoints) == 1 and exp.checkpoints[0].path == "model.pth"


def in_terminal(code, cwd):
    """`python -c code` with a pseudo-terminal as its stdin, stdout and stderr; what it wrote."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests/runner/pty_run.py"), sys.executable, "-c", code],
        cwd=cwd, env=dict(os.environ), capture_output=True, timeout=120,
    )
    shown = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0, shown
    assert "stopped" in shown, shown
    return shown


def test_stop_waiting_on_a_terminal_rewrites_one_line(slow_s3, project):
    # tqdm, if this environment has it, is hidden: the display of last resort is shown.
    shown = in_terminal(SCRIPT.format(before="sys.modules['tqdm'] = None"), project)
    updates = re.findall(r"\r\x1b\[Kkeepsake: saving 1 checkpoint\(s\): +(\d+)% ", shown)
    assert len(updates) >= 2, repr(shown)
    assert [int(p) for p in updates] == sorted(int(p) for p in updates), updates
    assert re.search(r"12\.0 MiB [\d.]+ \w+/s", shown), repr(shown)
    # Finished: the line rewritten once more with the total, and ended.
    assert re.search(r"\r\x1b\[Kkeepsake: saving 1 checkpoint\(s\): 12\.0 MiB in \d+s \([^)]*\)\r\n", shown), repr(shown)


def test_stop_waiting_on_a_terminal_uses_tqdm_when_installed(slow_s3, project):
    pytest.importorskip("tqdm")
    shown = in_terminal(SCRIPT.format(before=""), project)
    # tqdm's own bar: a description, a percentage, a `|...|` bar and its byte counts.
    assert re.search(r"keepsake: saving 1 checkpoint\(s\): +\d+%\|", shown), repr(shown)
    assert re.search(r"100%\|[^|]*\| 12\.\d+MB?/12\.\d+M", shown), repr(shown)


def test_checkout_shows_its_bytes_through_sys_stderr(slow_s3, project, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    exp = keepsake.init(path="src", params={"lr": 0.1})
    c = exp.checkpoint(path="model.pth", step=1, quiet=True)
    exp.stop()
    capsys.readouterr()
    c.checkout(tmp_path / "out")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("keepsake: Checking out:")]
    # After a second, a line with the bytes read of the total; at the end, the total.
    assert len(lines) >= 2, err
    assert re.match(r"keepsake: Checking out: +\d+% [\d.]+ \w+/12\.\d MiB", lines[0]), lines
    assert re.fullmatch(r"keepsake: Checking out: 12\.\d MiB in \d+s \([\d.]+ \w+/s\)", lines[-1]), lines
    assert (tmp_path / "out" / "model.pth").read_bytes() == (project / "model.pth").read_bytes()
    # quiet: nothing drawn.
    c.checkout(tmp_path / "quiet", quiet=True)
    assert "Checking out" not in capsys.readouterr().err
