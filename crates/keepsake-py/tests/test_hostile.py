"""What comes back from a store is checked before Python sees it: a checkpoint whose stored
tarball is not the recorded one raises, from open() or at the end of its stream, and checkout()
writes nothing."""

import pytest

import keepsake
from conftest import store_of


def _record(project):
    exp = keepsake.init(path=".", params={"lr": 0.1})
    (project / "model.pth").write_bytes(b"w" * 200_000)
    exp.checkpoint(path="model.pth", step=1, metrics={"loss": 0.5}, primary_metric=("loss", "minimize"))
    exp.stop()
    checkpoint = keepsake.experiments.get(exp.id).checkpoints[0]
    return checkpoint, store_of(project) / "checkpoints" / f"{checkpoint.id}.tar.gz"


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_damaged_weights_raise_and_write_nothing(project, tmp_path, damage):
    checkpoint, key = _record(project)
    data = bytearray(key.read_bytes())
    assert checkpoint.open("model.pth").read() == b"w" * 200_000
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) - 16]
    key.write_bytes(bytes(data))
    with pytest.raises(Exception) as raised:
        checkpoint.open("model.pth").read()
    assert checkpoint.id[:7] in str(raised.value) and "not what was recorded" in str(raised.value)
    out = tmp_path / "out"
    with pytest.raises(Exception):
        checkpoint.checkout(str(out))
    assert not (out / "model.pth").exists()
