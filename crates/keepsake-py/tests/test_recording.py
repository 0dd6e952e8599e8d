"""Recorded means recorded: whatever a process recorded is saved when it ends (stop(), exit,
SIGTERM), its own reads see it at once, and what could not be saved is an error, never silence."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from conftest import ks, ls_json, require_env, run_python
from test_processes import Proxy

import keepsake
from keepsake.exceptions import InvalidArgument, WriteError


class Proxy(Proxy):
    """The outage proxy, whose stop() also wakes its accept() so that the port is free at once
    (to come back right away, or pointing at another server)."""

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        super().stop()


def s3_project(project, name):
    """Points the project at a fresh prefix of the S3 test bucket; returns (endpoint, prefix)."""
    endpoint = require_env("KEEPSAKE_TEST_S3_ENDPOINT")
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    (project / "keepsake.yaml").write_text(f"repository: s3://keepsake-test/{prefix}\n")
    return endpoint, prefix


def stored_metadata(endpoint, prefix, exp_id):
    """Keepsake's metadata file for the experiment, read straight from the S3 server."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    body = s3.get_object(Bucket="keepsake-test", Key=f"{prefix}/metadata/experiments/{exp_id}.json")["Body"]
    return json.loads(body.read())


def test_a_short_process_checkpointing_a_got_experiment_on_s3_records_it_every_time(project):
    endpoint, prefix = s3_project(project, "short")
    made = run_python(
        """
        import keepsake
        exp = keepsake.init(path="src", params={"lr": 1})
        exp.stop()
        print(exp.id)
        """,
        cwd=project,
    )
    assert made.returncode == 0, made.stderr
    exp_id = made.stdout.strip()
    # The case: get an experiment, checkpoint, exit at once (no wait(), no stop()).
    for step in range(10):
        run = run_python(
            f"""
            import keepsake
            keepsake.Project().experiments.get("{exp_id}").checkpoint(path=".", step={step})
            """,
            cwd=project,
        )
        assert run.returncode == 0, run.stderr
        shown = json.loads(ks("show", "--json", exp_id).stdout)
        assert [c["step"] for c in shown["checkpoints"]] == list(range(step + 1)), run.stderr
        stored = stored_metadata(endpoint, prefix, exp_id)
        assert [c["step"] for c in stored["checkpoints"]] == list(range(step + 1)), run.stderr


def test_reads_in_the_process_see_its_checkpoints_at_once(project):
    s3_project(project, "reads")
    # Big enough that its upload to the S3 server is still going when the reads start.
    (project / "model.pth").write_bytes(os.urandom(24 << 20))
    exp = keepsake.init(path="src", params={"lr": 1})
    c = exp.checkpoint(path="model.pth", step=1, metrics={"loss": 0.5}, quiet=True)
    got = keepsake.experiments.get(exp.id)
    assert [x.id for x in got.checkpoints] == [c.id]
    # Through another Project object, and the listing, too.
    again = keepsake.Project(directory=str(project)).experiments.get(exp.id[:10])
    assert [x.id for x in again.checkpoints] == [c.id]
    listed = [e for e in keepsake.experiments.list() if e.id == exp.id]
    assert [x.id for x in listed[0].checkpoints] == [c.id]
    # And the files are there to read back.
    with got.checkpoints[0].open("model.pth") as f:
        assert f.read() == (project / "model.pth").read_bytes()
    exp.stop()


def test_a_step_beyond_int64_or_negative_is_refused(project):
    exp = keepsake.init(path="src", params={"lr": 1})
    with pytest.raises(InvalidArgument, match=r"step = 9223372036854775808 .*2\*\*63-1"):
        exp.checkpoint(step=2**63)
    with pytest.raises(InvalidArgument, match=r"step = -1"):
        exp.checkpoint(step=-1)
    # The binding refuses it too, whatever the Python layer lets through (it used to record 0).
    spec = {"path": None, "step": 2**63, "metrics": None, "primary_metric": None}
    with pytest.raises(InvalidArgument, match=r"step `9223372036854775808`"):
        exp._recorder.checkpoint(json.dumps(spec))
    exp.checkpoint(step=2**63 - 1, quiet=True)
    exp.stop()
    rows = ls_json()
    assert rows[0]["num_checkpoints"] == 1 and rows[0]["latest_checkpoint"]["step"] == 2**63 - 1


def test_checkpoint_after_stop_raises(project):
    exp = keepsake.init(path="src", params={"lr": 1})
    exp.checkpoint(step=0, quiet=True)
    exp.stop()
    with pytest.raises(InvalidArgument, match=r"is stopped"):
        exp.checkpoint(step=1)
    got = keepsake.experiments.get(exp.id)
    got.checkpoint(step=1, quiet=True)
    got.stop()
    with pytest.raises(InvalidArgument, match=r"is stopped"):
        got.checkpoint(step=2)
    assert ls_json()[0]["num_checkpoints"] == 2


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def strict_s3():
    """A second S3 server that checks credentials (moto does once the count is 0): ours are
    unknown to it, so it answers 403 InvalidAccessKeyId."""
    moto = require_env("KEEPSAKE_TEST_MOTO_SERVER")
    port = free_port()
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)],
                              env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        server.kill()
        server.wait()


def test_a_store_refusing_credentials_fails_the_saves_at_once_and_stop_raises(project, strict_s3):
    endpoint, _ = s3_project(project, "creds")
    proxy = Proxy(int(endpoint.rsplit(":", 1)[1]))
    proxy.start()
    script = """
import sys, keepsake
from keepsake.exceptions import WriteError
exp = keepsake.init(path="src", params={"lr": 1})
open("model.pth", "w").write("weights 0")
exp.checkpoint(path="model.pth", step=0, quiet=True)
exp.wait()
print("saved 0", flush=True)
sys.stdin.readline()
open("model.pth", "w").write("weights")
a = exp.checkpoint(path="model.pth", step=1, quiet=True)
b = exp.checkpoint(path="model.pth", step=2, quiet=True)
try:
    exp.stop()
    print("stop returned")
except WriteError as e:
    print("stop raised:", a.short_id(), b.short_id(), str(e).replace(chr(10), " "))
"""
    # The default retry time (600 s): a refusal must not be retried for it.
    env = dict(os.environ, AWS_ENDPOINT=f"http://127.0.0.1:{proxy.port}")
    env.pop("KEEPSAKE_UPLOAD_RETRY_SECONDS", None)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=project, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "saved 0"
        # The credentials stop working mid-run: the same address now answers 403.
        proxy.stop()
        proxy.target = ("127.0.0.1", strict_s3)
        proxy.start()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)  # a hang guard only, far below the retry time
    finally:
        proc.kill()
        proxy.stop()
    assert proc.returncode == 0, err
    line = out.strip().splitlines()[-1]
    assert line.startswith("stop raised:"), out + err
    _, ids = line.split(":", 1)
    a, b = ids.split()[:2]
    assert f"2 checkpoints ({a}, {b}) of experiment" in line and "were NOT saved" in line, line
    assert "InvalidAccessKeyId" in line, line
    assert "retrying" not in err, err
    # One clear warning for the refusal, not one per checkpoint.
    assert sum("NOT saved" in l for l in err.splitlines()) == 1, err
    assert "stop() names them" in err, err
    rows = ls_json(env={"AWS_ENDPOINT": endpoint})
    assert rows[0]["num_checkpoints"] == 1


SIGTERM_SCRIPT = """
import signal, sys, time, keepsake
{before}
exp = keepsake.init(path="src", params={{"lr": 1}})
print(exp.id, flush=True)
sys.stdin.readline()
open("model.pth", "w").write("weights")
exp.checkpoint(path="model.pth", step=7, quiet=True)
print("queued", flush=True)
while True:
    time.sleep(0.1)
"""


def run_until_sigterm(project, before):
    """Runs a training process whose checkpoint is still waiting for the store (it is down) when
    SIGTERM comes; the store comes back after. Returns (process, experiment ID, out, err)."""
    endpoint, prefix = s3_project(project, "sigterm")
    proxy = Proxy(int(endpoint.rsplit(":", 1)[1]))
    proxy.start()
    env = dict(os.environ, AWS_ENDPOINT=f"http://127.0.0.1:{proxy.port}", KEEPSAKE_UPLOAD_RETRY_SECONDS="120")
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_SCRIPT.format(before=before)], cwd=project,
                            env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        exp_id = proc.stdout.readline().strip()
        proxy.stop()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "queued"
        proc.send_signal(signal.SIGTERM)
        time.sleep(2)
        proxy.start()
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proxy.stop()
    shown = json.loads(ks("show", "--json", exp_id, env={"AWS_ENDPOINT": endpoint}).stdout)
    assert [c["step"] for c in shown["checkpoints"]] == [7], err
    assert [c["step"] for c in stored_metadata(endpoint, prefix, exp_id)["checkpoints"]] == [7], err
    return proc, exp_id, out, err, endpoint


def test_sigterm_saves_what_is_pending_then_terminates_as_before(project):
    proc, exp_id, out, err, endpoint = run_until_sigterm(project, before="")
    assert proc.returncode == -signal.SIGTERM, err
    # Stopped, not left running.
    rows = ls_json(env={"AWS_ENDPOINT": endpoint})
    assert rows[0]["id"] == exp_id and rows[0]["running"] is False


def test_sigterm_runs_the_users_handler_after_saving(project):
    before = """
def mine(signum, frame):
    print("user handler", flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, mine)
"""
    proc, exp_id, out, err, endpoint = run_until_sigterm(project, before=before)
    assert proc.returncode == 3, err
    assert "user handler" in out
    rows = ls_json(env={"AWS_ENDPOINT": endpoint})
    assert rows[0]["id"] == exp_id and rows[0]["running"] is False


def test_a_checkpoint_added_from_another_process_leaves_the_run_running(project):
    trainer = subprocess.Popen([sys.executable, "-c", """
import sys, keepsake
exp = keepsake.init(path="src", params={"lr": 1})
print(exp.id, flush=True)
sys.stdin.readline()
exp.stop()
"""], cwd=project, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        exp_id = trainer.stdout.readline().strip()
        run = run_python(f"""
            import keepsake
            keepsake.experiments.get("{exp_id}").checkpoint(step=5, metrics={{"loss": 0.1}})
            """, cwd=project)
        assert run.returncode == 0, run.stderr
        # Saved at that process's exit, without deleting the trainer's heartbeat.
        rows = ls_json()
        assert rows[0]["num_checkpoints"] == 1 and rows[0]["running"] is True
        trainer.stdin.write("done\n")
        trainer.stdin.flush()
        trainer.communicate(timeout=60)
    finally:
        trainer.kill()
    assert trainer.returncode == 0
    assert ls_json()[0]["running"] is False
