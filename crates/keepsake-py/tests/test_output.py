"""Where the package's words go: warnings through Python's `warnings` (so they can be filtered,
logged or made errors), progress and the recorder's events through `sys.stderr` (so notebooks
and `logging` see them), never past Python to file descriptor 2."""

import warnings

import pytest

import keepsake
from keepsake.exceptions import InternalError, KeepsakeError, KeepsakeWarning, WouldOverwrite


@pytest.fixture
def local_store(project):
    (project / "keepsake.yaml").write_text("repository: file://.keepsake\ngit_max_file_size: 1KiB\n")
    with open(project / ".gitignore", "a") as f:
        f.write(".keepsake/\n")
    return project


def test_a_file_left_out_of_git_is_a_keepsake_warning(local_store):
    (local_store / "data" / "big.bin").write_bytes(b"\x01" * 5000)
    with pytest.warns(KeepsakeWarning, match=r"`data/big\.bin` \(4\.9 KiB\)"):
        exp = keepsake.init(path=".", params={"lr": 0.1})
    exp.stop()


def test_a_warning_made_an_error_is_raised(local_store):
    (local_store / "data" / "big.bin").write_bytes(b"\x01" * 5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KeepsakeWarning)
        with pytest.raises(KeepsakeWarning):
            keepsake.init(path=".", params={"lr": 0.1})


def test_the_recorders_events_go_to_sys_stderr(local_store, monkeypatch, capsys):
    # No retrying: the first failure is the worker thread's event.
    monkeypatch.setenv("KEEPSAKE_UPLOAD_RETRY_SECONDS", "0")
    exp = keepsake.init(path="src", params={"lr": 0.1})
    # A file where the store's checkpoints directory goes: every checkpoint upload fails.
    (local_store / ".keepsake" / "checkpoints").write_text("in the way")
    (local_store / "model.pth").write_text("weights")
    c = exp.checkpoint(path="model.pth", step=1, quiet=True)
    with pytest.raises(KeepsakeError, match="NOT saved"):
        exp.stop()
    err = capsys.readouterr().err
    assert f"keepsake: warning: checkpoint {c.short_id()} was NOT saved" in err, err


def test_checkout_progress_goes_to_sys_stderr(local_store, tmp_path, capsys):
    exp = keepsake.init(path="src", params={"lr": 0.1})
    (local_store / "model.pth").write_text("weights")
    c = exp.checkpoint(path="model.pth", step=1, quiet=True)
    exp.stop()
    capsys.readouterr()
    c.checkout(tmp_path / "out")
    err = capsys.readouterr().err
    assert f"keepsake: Copying files of checkpoint {c.short_id()}" in err, err
    assert (tmp_path / "out" / "model.pth").read_text() == "weights"


def test_each_error_kind_has_its_class_and_the_pythons_hint(local_store, tmp_path):
    exp = keepsake.init(path="src", params={"lr": 0.1})
    exp.stop()
    out = tmp_path / "out"
    out.mkdir()
    (out / "src").mkdir()
    (out / "src" / "model.py").write_text("changed\n")
    project = keepsake.Project()
    with pytest.raises(WouldOverwrite) as raised:
        project._core.checkout(exp.id, None, str(out), False, True)
    assert "force=True" in str(raised.value), raised.value
    assert "`-f`" not in str(raised.value), raised.value
    assert issubclass(InternalError, KeepsakeError)
