"""Bad input raises a KeepsakeError naming the value; a failed call consumes no step and leaves
no orphan experiment."""

import pytest

import keepsake
from keepsake.exceptions import InvalidArgument, KeepsakeError
from conftest import store_of


def no_experiments(project):
    assert keepsake.experiments.list() == []
    assert not list((store_of(project) / "metadata" / "experiments").glob("*")) if (store_of(project) / "metadata").exists() else True


def test_path_that_does_not_exist(project):
    with pytest.raises(KeepsakeError, match="no-such-dir"):
        keepsake.init(path="no-such-dir")
    no_experiments(project)
    exp = keepsake.init()
    with pytest.raises(InvalidArgument, match="missing.pth"):
        exp.checkpoint(path="missing.pth")
    assert exp.checkpoint().step == 0  # the failed call consumed no step
    exp.stop()


@pytest.mark.parametrize(
    "pm, match",
    [
        ("loss", "tuple"),
        (("loss",), "tuple"),
        (("loss", "MAXIMIZE"), "'MAXIMIZE'"),
        (("loss", "maximilize"), "'maximilize'"),
        ((3, "minimize"), "3"),
    ],
)
def test_bad_primary_metric(project, pm, match):
    exp = keepsake.init()
    with pytest.raises(InvalidArgument, match=match):
        exp.checkpoint(metrics={"loss": 1.0}, primary_metric=pm)
    assert exp.checkpoint(metrics={"loss": 1.0}).step == 0
    exp.stop()


def test_primary_metric_missing_from_metrics(project):
    exp = keepsake.init()
    with pytest.raises(InvalidArgument, match="'val_loss'.*loss"):
        exp.checkpoint(metrics={"loss": 1.0}, primary_metric=("val_loss", "minimize"))
    exp.stop()
    assert keepsake.experiments.get(exp.id).checkpoints == []


@pytest.mark.parametrize(
    "params, match",
    [
        ({"model": object()}, r"params\['model'\]"),
        ({"opt": {"betas": {1, 2}}}, r"params\['opt'\]\['betas'\]"),
        ({"big": 2**70}, r"params\['big'\]"),
        ({1: "x"}, "keys must be strings"),
    ],
)
def test_params_that_cannot_be_stored(project, params, match):
    with pytest.raises(InvalidArgument, match=match):
        keepsake.init(params=params)
    no_experiments(project)


def test_params_not_a_dict(project):
    with pytest.raises(InvalidArgument, match="params must be a dict"):
        keepsake.init(params="lol")
    no_experiments(project)


def test_metrics_that_cannot_be_stored(project):
    exp = keepsake.init()
    with pytest.raises(InvalidArgument, match=r"metrics\['loss'\]"):
        exp.checkpoint(metrics={"loss": object()})
    exp.stop()


def test_negative_or_non_integer_step(project):
    exp = keepsake.init()
    with pytest.raises(InvalidArgument, match="-1"):
        exp.checkpoint(step=-1)
    with pytest.raises(InvalidArgument, match="'3'"):
        exp.checkpoint(step="3")
    assert exp.checkpoint().step == 0
    exp.stop()


def test_empty_path_string(project):
    exp = keepsake.init()
    with pytest.raises(InvalidArgument, match="empty string"):
        exp.checkpoint(path="")
    exp.stop()


def test_not_a_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(keepsake.exceptions.ConfigNotFound, match="keepsake.yaml not found"):
        keepsake.init()


@pytest.mark.parametrize("name", ["KEEPSAKE_CAPTURE_MEMORY_MB", "KEEPSAKE_UPLOAD_RETRY_SECONDS"])
def test_bad_numbers_in_the_environment(project, monkeypatch, name):
    monkeypatch.setenv(name, "lots")
    with pytest.raises(InvalidArgument, match=f"{name} `lots`.*whole number"):
        keepsake.init()
    # Nothing half-made: no experiment, and fixing the variable is enough.
    monkeypatch.setenv(name, "64")
    exp = keepsake.init()
    exp.checkpoint()
    exp.stop()
    assert len(keepsake.experiments.list()) == 1
