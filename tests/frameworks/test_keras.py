"""keepsake.keras_callback on a real Keras: Keras 3 on JAX (venv keras3) and TensorFlow CPU's
tf.keras 2 (venv tfkeras)."""

import numpy as np
import pytest

try:
    import tensorflow as tf

    keras = tf.keras  # what tf.keras users write; Keras 2.x under TensorFlow 2.15
except ImportError:
    import keras

import keepsake
from keepsake.exceptions import ConfigNotFound, InvalidArgument, KeepsakeWarning
from keepsake.keras_callback import KERAS_3, KeepsakeCallback

from conftest import checkout, ls_json, only_experiment

EPOCHS = 3


def data():
    rng = np.random.default_rng(0)
    x = rng.random((64, 4), dtype=np.float32)
    return x, x.sum(axis=1, keepdims=True)


def build():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


class Weights(keras.callbacks.Callback):
    """The model's weights at each epoch end, as Keras has them."""

    def __init__(self):
        super().__init__()
        self.by_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch.append([w.copy() for w in self.model.get_weights()])


def fit(callback, epochs=EPOCHS, **kwargs):
    x, y = data()
    model = build()
    weights = Weights()
    history = model.fit(
        x, y, epochs=epochs, batch_size=16, validation_split=0.25, verbose=0, callbacks=[weights, callback], **kwargs
    )
    return model, history, weights


def test_a_checkpoint_per_epoch_with_the_logs_and_the_model_that_loads_back(project, tmp_path):
    cb = KeepsakeCallback(params={"note": "tiny", "epochs": 99}, primary_metric=("val_loss", "minimize"))
    assert isinstance(cb, keras.callbacks.Callback)
    _, history, weights = fit(cb)

    row, exp = only_experiment()
    assert row["running"] is False  # stopped at train end
    params = exp["params"]
    assert params["note"] == "tiny" and params["epochs"] == 99  # the user's params win
    assert params["steps_per_epoch"] == 3
    assert params["optimizer"]["learning_rate"] == 0.01  # the float32 variable, as written
    assert params["optimizer"]["name"].lower() == "adam"
    assert params["loss"] == "mse"
    assert params["model"] == {"class": "Sequential", "name": params["model"]["name"], "parameters": 49}

    checkpoints = exp["checkpoints"]
    filename = "model.keras" if KERAS_3 else "model.hdf5"
    assert [c["step"] for c in checkpoints] == list(range(EPOCHS))
    assert [c["path"] for c in checkpoints] == [filename] * EPOCHS
    # Exactly what Keras reported for each epoch, every digit.
    for epoch, c in enumerate(checkpoints):
        assert c["metrics"] == {k: v[epoch] for k, v in history.history.items()}
        assert c["primary_metric"] == {"name": "val_loss", "goal": "minimize"}
    best = min(range(EPOCHS), key=lambda e: history.history["val_loss"][e])
    assert row["best_checkpoint"]["step"] == best

    # The file of epoch 1 (not the last one written) checks out and loads with that epoch's weights.
    out = checkout(checkpoints[1]["id"], tmp_path / "out")
    loaded = keras.models.load_model(out / filename)
    for got, want in zip(loaded.get_weights(), weights.by_epoch[1]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(weights.by_epoch[1][0], weights.by_epoch[2][0])


def test_weights_only_with_an_epoch_placeholder_in_a_subdirectory(project, tmp_path):
    pattern = "weights/epoch-{epoch:02d}." + ("weights.h5" if KERAS_3 else "hdf5")
    _, _, weights = fit(KeepsakeCallback(filepath=pattern, save_weights_only=True), epochs=2)
    _, exp = only_experiment()
    paths = [c["path"] for c in exp["checkpoints"]]
    assert paths == [pattern.format(epoch=1), pattern.format(epoch=2)]
    out = checkout(exp["checkpoints"][0]["id"], tmp_path / "out")
    fresh = build()
    fresh.load_weights(str(out / paths[0]))
    for got, want in zip(fresh.get_weights(), weights.by_epoch[0]):
        np.testing.assert_array_equal(got, want)


def test_default_weights_filename_is_valid_for_this_keras(project):
    fit(KeepsakeCallback(save_weights_only=True), epochs=1)
    _, exp = only_experiment()
    assert exp["checkpoints"][0]["path"] == ("model.weights.h5" if KERAS_3 else "model.hdf5")
    assert (project / exp["checkpoints"][0]["path"]).is_file()


def test_filepath_none_records_metrics_only(project):
    _, history, _ = fit(KeepsakeCallback(filepath=None), epochs=2)
    _, exp = only_experiment()
    assert [c["path"] for c in exp["checkpoints"]] == ["", ""]  # Keepsake's "no files"
    assert exp["checkpoints"][1]["metrics"]["loss"] == history.history["loss"][1]
    assert not (project / "model.keras").exists() and not (project / "model.hdf5").exists()


def test_save_freq_in_batches(project):
    # 3 batches an epoch, saved every 2: after batches 2, 4 and 6 of 2 epochs.
    fit(KeepsakeCallback(filepath=None, save_freq=2), epochs=2)
    _, exp = only_experiment()
    assert [c["step"] for c in exp["checkpoints"]] == [0, 1, 2]
    assert all("loss" in c["metrics"] for c in exp["checkpoints"])


def test_a_primary_metric_not_logged_warns_once_and_records(project):
    with pytest.warns(KeepsakeWarning, match="'val_acc' is not among the metrics"):
        fit(KeepsakeCallback(filepath=None, primary_metric=("val_acc", "maximize")), epochs=2)
    _, exp = only_experiment()
    assert [c["primary_metric"] for c in exp["checkpoints"]] == [None, None]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"primary_metric": ("val_loss", "lowest")}, "goal 'lowest'"),
        ({"primary_metric": "val_loss"}, "primary_metric = 'val_loss'"),
        ({"params": ["lr", 0.1]}, "params must be a dict"),
        ({"save_freq": 0}, "save_freq = 0"),
        ({"save_freq": "batch"}, "save_freq = 'batch'"),
        ({"filepath": ""}, "filepath is an empty string"),
        ({"filepath": "../model.keras"}, "not inside the project"),
        ({"filepath": "/tmp/model.keras"}, "not inside the project"),
        ({"filepath": "model-{epoch.keras"}, "not a valid format string"),
        ({"filepath": "model.keras", "save_weights_only": True}, "filepath = 'model.keras'"),
        ({"save_weights_only": "yes"}, "save_weights_only = 'yes'"),
    ],
)
def test_bad_arguments_fail_at_construction_and_leave_no_experiment(project, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        KeepsakeCallback(**kwargs)
    assert ls_json() == []


@pytest.mark.skipif(not KERAS_3, reason="tf.keras 2 saves a model under any name (a SavedModel directory)")
def test_a_name_keras_3_cannot_save_fails_at_construction(project):
    with pytest.raises(InvalidArgument, match=r"filepath = 'model.pth'.*'\.keras'"):
        KeepsakeCallback(filepath="model.pth")
    assert ls_json() == []


def test_outside_a_project_fails_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigNotFound):
        KeepsakeCallback()


def test_a_placeholder_naming_no_metric_fails_at_the_first_save_and_leaves_no_experiment(project):
    cb = KeepsakeCallback(filepath="model-{val_accuracy:.2f}.keras")
    with pytest.raises(InvalidArgument, match=r"placeholder \{val_accuracy\}"):
        fit(cb, epochs=1)
    assert ls_json() == []


def test_two_fits_are_two_experiments(project):
    cb = KeepsakeCallback(filepath=None)
    fit(cb, epochs=1)
    fit(cb, epochs=2)
    listed = ls_json()
    assert sorted(r["num_checkpoints"] for r in listed) == [1, 2]
    assert all(r["running"] is False for r in listed)
