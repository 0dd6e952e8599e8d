"""Real training processes: killed with SIGKILL mid-upload, forked by multiprocessing, and running
through a storage outage."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import ks, ls_json, require_env, store_of


def iso_in(seconds):
    t = time.time() + seconds
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def test_sigkill_in_the_middle_of_an_upload(project):
    script = """
import os, keepsake
exp = keepsake.init(path="src", params={"lr": 1})
open("small.pth", "wb").write(b"small weights")
exp.checkpoint(path="small.pth", metrics={"loss": 1.0})
exp.wait()
with open("big.pth", "wb") as f:
    for _ in range(8):
        f.write(os.urandom(8 << 20))
# With a local store checkpoint() returns once saved: the parent is told from another thread,
# as the save starts, and kills the process while it is saving.
import threading
threading.Thread(target=lambda: print("uploading", flush=True)).start()
exp.checkpoint(path="big.pth", metrics={"loss": 0.5})
exp.wait()
print("finished", flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "uploading"
    proc.kill()
    proc.wait(timeout=30)

    rows = ls_json()
    assert len(rows) == 1
    exp = rows[0]
    # The big checkpoint was recorded whole, or (killed mid-save, as nearly always) not at all:
    # nothing names data that was not written.
    assert exp["num_checkpoints"] in (1, 2)
    shown = json.loads(ks("show", "--json", exp["id"]).stdout)
    for c in shown["checkpoints"]:
        assert (store_of(project) / "checkpoints" / f"{c['id']}.tar.gz").is_file()
        out = project.parent / f"out-{c['id']}"
        ks("checkout", c["id"], "-o", str(out))
        name = "small.pth" if c["step"] == 0 else "big.pth"
        assert (out / name).read_bytes() == (project / name).read_bytes()
    # An interrupted capture may leave a hidden temp file (gc removes it); no tarball is visible
    # under a name that nothing records.
    recorded = {p.name for p in (store_of(project) / "checkpoints").iterdir() if not p.name.startswith(".")}
    assert recorded == {f"{c['id']}.tar.gz" for c in shown["checkpoints"]}
    # Its heartbeat was fresh when it died; once the timeout passes it shows as stopped.
    assert exp["running"] is True
    later = ls_json(env={"GIT_KEEPSAKE_NOW": iso_in(60)})
    assert later[0]["running"] is False
    assert ks("ps", "-q", env={"GIT_KEEPSAKE_NOW": iso_in(60)}).stdout == ""


def test_fork_after_init(project):
    script = """
import multiprocessing as mp, os, sys, keepsake

def child(q):
    ignored = EXP.checkpoint(metrics={"loss": 9.0})
    EXP.stop()
    q.put((os.getpid(), ignored is None))

if __name__ == "__main__":
    mp.set_start_method("fork")
    EXP = keepsake.init(path="src", params={"workers": 2})
    EXP.checkpoint(metrics={"loss": 1.0})
    q = mp.Queue()
    workers = [mp.Process(target=child, args=(q,)) for _ in range(2)]
    for w in workers:
        w.start()
    for i in range(3):
        open("model.pth", "w").write(str(i))
        EXP.checkpoint(path="model.pth", metrics={"loss": 0.5 - i * 0.1}, primary_metric=("loss", "minimize"))
    results = [q.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0, w.exitcode
    assert all(ignored for _, ignored in results), results
    EXP.stop()
    print("parent done", flush=True)
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "parent done" in proc.stdout
    rows = ls_json()
    assert len(rows) == 1 and rows[0]["num_checkpoints"] == 4 and rows[0]["running"] is False
    assert rows[0]["best_checkpoint"]["metrics"]["loss"] == pytest.approx(0.3)


class Proxy:
    """A TCP proxy in front of the S3 test server, to take the store away and bring it back."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.listener = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def stop(self):
        self.listener.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns.clear()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_storage_outage_mid_run(project):
    endpoint = require_env("KEEPSAKE_TEST_S3_ENDPOINT")
    proxy = Proxy(int(endpoint.rsplit(":", 1)[1]))
    proxy.start()
    url = f"s3://keepsake-test/outage-{uuid.uuid4().hex[:8]}"
    (project / "keepsake.yaml").write_text(f"repository: {url}\n")
    script = """
import sys, keepsake
exp = keepsake.init(path="src", params={"lr": 1})
def save(i):
    open("model.pth", "w").write(f"weights {i}")
    exp.checkpoint(path="model.pth", step=i, metrics={"loss": 1.0 / (i + 1)})
save(0)
exp.wait()
print("saved 0", flush=True)
sys.stdin.readline()
save(1)
print("queued 1", flush=True)
sys.stdin.readline()
save(2)
exp.stop()
print("done", flush=True)
"""
    env = dict(os.environ, AWS_ENDPOINT=f"http://127.0.0.1:{proxy.port}", KEEPSAKE_UPLOAD_RETRY_SECONDS="120")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=project, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "saved 0"
        proxy.stop()  # the store goes away mid-run
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "queued 1"
        time.sleep(3)
        proxy.start()  # and comes back
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=180)
    finally:
        proc.kill()
        proxy.stop()
    assert proc.returncode == 0, err
    assert "done" in out
    assert "retrying" in err, err
    direct = {"AWS_ENDPOINT": endpoint}
    rows = ls_json(env=direct)
    assert len(rows) == 1 and rows[0]["num_checkpoints"] == 3
    shown = json.loads(ks("show", "--json", rows[0]["id"], env=direct).stdout)
    assert [c["step"] for c in shown["checkpoints"]] == [0, 1, 2]
    for c in shown["checkpoints"]:
        out_dir = project.parent / f"out-{c['step']}"
        ks("checkout", c["id"], "-o", str(out_dir), env=direct)
        assert (out_dir / "model.pth").read_text() == f"weights {c['step']}"


@pytest.mark.parametrize("budget_mb", [None, "0", "20"])
def test_checkpoints_are_the_files_at_the_call_whatever_the_capture_memory(project, budget_mb):
    # Default: every capture in memory (written with direct I/O); 0: every capture packed on
    # disk at the call; 20 MB: some of each, as the budget fills and empties.
    script = """
import hashlib, json, os, keepsake
exp = keepsake.init(params={"lr": 1})
sums = []
for step in range(6):
    data = os.urandom(9 << 20) + (b"step %d\\n" % step) * 200000
    with open("model.pth", "wb") as f:
        f.write(data)
    exp.checkpoint(path="model.pth", metrics={"loss": 1.0 / (step + 1)})
    with open("model.pth", "wb") as f:
        f.write(b"overwritten at once")
    sums.append(hashlib.sha256(data).hexdigest())
exp.stop()
print(json.dumps(sums))
"""
    env = dict(os.environ)
    if budget_mb is not None:
        env["KEEPSAKE_CAPTURE_MEMORY_MB"] = budget_mb
    proc = subprocess.run([sys.executable, "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    sums = json.loads(proc.stdout.strip().splitlines()[-1])
    exp = ls_json()[0]
    shown = json.loads(ks("show", "--json", exp["id"]).stdout)
    assert [c["step"] for c in shown["checkpoints"]] == list(range(6))
    for c, want in zip(shown["checkpoints"], sums):
        out = project.parent / f"out-{budget_mb}-{c['id']}"
        ks("checkout", c["id"], "-o", str(out))
        assert hashlib.sha256((out / "model.pth").read_bytes()).hexdigest() == want
    # Only recorded tarballs are left in the store: no capture or temp files behind.
    left = sorted(p.name for p in (store_of(project) / "checkpoints").iterdir())
    assert left == sorted(f"{c['id']}.tar.gz" for c in shown["checkpoints"])
