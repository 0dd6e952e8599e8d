"""A Keras callback that records an experiment and a checkpoint per save (as Keepsake 0.4.2's).

Importable without TensorFlow or Keras; creating the callback needs one of them.
"""

import keepsake

try:  # pragma: no cover - depends on what is installed
    from tensorflow.keras.callbacks import ModelCheckpoint as _Base
except ImportError:  # pragma: no cover
    try:
        from keras.callbacks import ModelCheckpoint as _Base
    except ImportError:
        _Base = None


class KeepsakeCallback(_Base or object):
    def __init__(self, filepath="model.hdf5", params=None, primary_metric=None, save_freq="epoch", save_weights_only=False):
        if _Base is None:
            raise keepsake.exceptions.KeepsakeError("KeepsakeCallback needs TensorFlow or Keras: pip install tensorflow")
        super().__init__(
            filepath=filepath or "model.hdf5",
            save_freq=save_freq,
            save_weights_only=save_weights_only,
            save_best_only=False,
            verbose=0,
        )
        self.keepsake_filepath = filepath
        self.params_to_record = params
        self.primary_metric = primary_metric
        self.experiment = None
        self.step = 0

    def on_train_begin(self, logs=None):
        self.experiment = keepsake.init(path=".", params=self.params_to_record)

    def _save_model(self, epoch, batch=None, logs=None):
        if self.keepsake_filepath is not None:
            super()._save_model(epoch, batch, logs) if batch is not None else super()._save_model(epoch, logs)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.experiment.checkpoint(
            path=self.keepsake_filepath,
            step=self.step,
            metrics=logs,
            primary_metric=self.primary_metric if self.primary_metric and self.primary_metric[0] in logs else None,
            quiet=True,
        )
        self.step += 1
