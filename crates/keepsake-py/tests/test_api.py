"""The Keepsake 0.4.2 API on the git-keepsake core, in-process."""

import io
import math
import platform
import socket

import pytest

import keepsake
from conftest import ks, ls_json, store_of


def test_init_records_code_params_and_environment(project):
    import numpy  # noqa: F401  (imported packages are recorded)

    (project / "train.py").write_text("print('edited')\n")
    exp = keepsake.init(path=".", params={"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}, "bad": float("nan")})
    exp.stop()
    got = keepsake.experiments.get(exp.id)
    assert got.params == {"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}, "bad": got.params["bad"]}
    assert math.isnan(got.params["bad"])
    assert got.python_version == platform.python_version()
    assert got.python_packages["numpy"] == numpy.__version__
    assert "keepsake" in got.python_packages
    assert got.host == socket.gethostname() and got.host
    assert got.user
    assert got.command.endswith("pytest") or "pytest" in got.command
    assert got.keepsake_version == keepsake.__version__
    assert len(got.git_commit) == 40 and got.git_dirty is True
    assert (store_of(project) / "experiments" / f"{exp.id}.tar.gz").is_file()


def test_checkpoints_steps_best_latest_and_listing(project):
    exp = keepsake.init(path="src", params={"lr": 0.1})
    for loss in [0.9, 0.4, 0.6]:
        (project / "model.pth").write_text(f"loss {loss}")
        exp.checkpoint(path="model.pth", metrics={"loss": loss, "acc": 1 - loss}, primary_metric=("loss", "minimize"))
    exp.checkpoint(step=10, metrics={"loss": 0.5})
    exp.checkpoint(metrics={"loss": float("nan")}, primary_metric=("loss", "minimize"))
    exp.stop()
    assert [c.step for c in exp.checkpoints] == [0, 1, 2, 10, 11]
    got = keepsake.experiments.get(exp.id[:10])
    assert got.checkpoints.step == [0, 1, 2, 10, 11]
    assert got.best().step == 1
    assert got.latest().step == 11
    assert got.checkpoints.metrics["acc"][:3] == pytest.approx([0.1, 0.6, 0.4])
    assert isinstance(got.checkpoints[1:], keepsake.CheckpointList)
    assert got.primary_metric() == "loss"
    listed = keepsake.experiments.list()
    assert [e.id for e in listed] == [exp.id]
    assert keepsake.experiments.list(filter=lambda e: e.params["lr"] > 1) == []
    row = ls_json()[0]
    assert row["num_checkpoints"] == 5 and row["best_checkpoint"]["step"] == 1


def test_checkpoint_captures_files_at_the_call(project):
    exp = keepsake.init()
    (project / "model.pth").write_bytes(b"first")
    c = exp.checkpoint(path="model.pth")
    (project / "model.pth").write_bytes(b"overwritten at once")
    exp.stop()
    assert keepsake.experiments.get(exp.id).checkpoints[0].open("model.pth").read() == b"first"
    assert c.step == 0


def test_open_streams_and_checkout_overlays(project, tmp_path):
    exp = keepsake.init(path=".")
    big = bytes(range(256)) * 40_000  # 10 MB, read back in pieces
    (project / "model.pth").write_bytes(big)
    exp.checkpoint(path="model.pth", metrics={"loss": 1.0})
    exp.stop()
    c = keepsake.experiments.get(exp.id).checkpoints[0]
    f = c.open("model.pth")
    assert isinstance(f, io.BufferedReader)
    assert f.read(5) == big[:5]
    assert f.read() == big[5:]
    assert c.open("src/model.py").read() == (project / "src/model.py").read_bytes()
    with pytest.raises(keepsake.exceptions.InvalidArgument, match="missing.txt"):
        c.open("missing.txt")
    out = tmp_path / "out"
    c.checkout(out)
    assert (out / "model.pth").read_bytes() == big
    assert (out / "train.py").read_text() == (project / "train.py").read_text()


def test_delete_and_refresh(project):
    exp = keepsake.init(path=".")
    exp.checkpoint(metrics={"loss": 1})
    exp.stop()
    other = keepsake.experiments.get(exp.id)
    other.refresh()
    assert len(other.checkpoints) == 1
    exp.delete()
    with pytest.raises(keepsake.exceptions.DoesNotExist):
        keepsake.experiments.get(exp.id)
    assert keepsake.experiments.list() == []


def test_heartbeat_marks_running_at_once_and_stop_clears_it(project):
    exp = keepsake.init()
    assert exp.is_running()
    assert ls_json()[0]["running"] is True
    exp.stop()
    assert not exp.is_running()


def test_project_with_explicit_repository(project, tmp_path):
    repo = tmp_path / "elsewhere"
    p = keepsake.Project(repository=f"file://{repo}")
    exp = p.experiments.create(path=None, params={"a": 1})
    exp.stop()
    assert (repo / "metadata" / "experiments" / f"{exp.id}.json").is_file()
    assert [e.id for e in p.experiments.list()] == [exp.id]


def test_plot_without_matplotlib_is_a_clear_error(project):
    exp = keepsake.init()
    exp.checkpoint(metrics={"loss": 1}, primary_metric=("loss", "minimize"))
    exp.stop()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(keepsake.KeepsakeError, match="pip install matplotlib"):
            exp.plot()


def test_callbacks_import_without_frameworks():
    from keepsake import keras_callback, pl_callback

    assert keras_callback.KeepsakeCallback and pl_callback.KeepsakeCallback


def test_cli_entry_point_is_installed(project):
    exp = keepsake.init()
    exp.stop()
    assert ks("ls", "-q").stdout.strip() == exp.id
    assert ks("--version").stdout.startswith("git-keepsake ")


def test_a_burst_of_checkpoints_leaves_every_one_in_the_metadata_file(project):
    # Keepsake's metadata file (every checkpoint in one JSON) is written once per burst of saves;
    # stop() returns only once it holds them all.
    import json

    exp = keepsake.init(params={"lr": 0.1})
    for i in range(300):
        exp.checkpoint(metrics={"loss": 1.0 / (i + 1)}, primary_metric=("loss", "minimize"), quiet=True)
    exp.stop()
    meta = json.loads((store_of(project) / "metadata" / "experiments" / f"{exp.id}.json").read_text())
    assert [c["step"] for c in meta["checkpoints"]] == list(range(300))
    row = ls_json()[0]
    assert row["num_checkpoints"] == 300 and row["best_checkpoint"]["step"] == 299


def test_metrics_keep_every_digit(project):
    # Floats such as a float32 loss widened to float64 read back equal, not one bit off.
    values = [2.2949445247650146, 0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, 9007199254740993.0]
    exp = keepsake.init()
    exp.checkpoint(metrics={f"m{i}": v for i, v in enumerate(values)})
    exp.stop()
    got = keepsake.experiments.get(exp.id).checkpoints[0].metrics
    assert [got[f"m{i}"] for i in range(len(values))] == values
    assert [ls_json()[0]["latest_checkpoint"]["metrics"][f"m{i}"] for i in range(len(values))] == values
