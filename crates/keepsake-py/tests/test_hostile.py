"""What comes back from a store is checked before Python sees it: a checkpoint whose stored
tarball is not the recorded one raises, from open() or at the end of its stream, and checkout()
writes nothing."""

import os

import pytest

import keepsake
from conftest import store_of


WEIGHTS = os.urandom(600_000)  # incompressible, and longer than one chunk of the stream


def _record(project):
    exp = keepsake.init(path=".", params={"lr": 0.1})
    (project / "model.pth").write_bytes(WEIGHTS)
    exp.checkpoint(path="model.pth", step=1, metrics={"loss": 0.5}, primary_metric=("loss", "minimize"))
    exp.stop()
    checkpoint = keepsake.experiments.get(exp.id).checkpoints[0]
    return checkpoint, store_of(project) / "checkpoints" / f"{checkpoint.id}.tar.gz"


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_weights_raise_and_write_nothing(project, tmp_path, damage):
    checkpoint, key = _record(project)
    data = bytearray(key.read_bytes())
    assert checkpoint.open("model.pth").read() == WEIGHTS
    if damage == "flip":
        data[len(data) * 3 // 4] ^= 0x01  # past the first chunk: raised by read(), not open()
    else:
        data = data[: len(data) - 16]
    key.write_bytes(bytes(data))
    with pytest.raises(keepsake.exceptions.CorruptData) as raised:
        checkpoint.open("model.pth").read()
    assert isinstance(raised.value, keepsake.exceptions.ReadError)
    assert checkpoint.id[:7] in str(raised.value) and "not what was recorded" in str(raised.value)
    out = tmp_path / "out"
    with pytest.raises(keepsake.exceptions.CorruptData):
        checkpoint.checkout(str(out))
    assert not (out / "model.pth").exists()
