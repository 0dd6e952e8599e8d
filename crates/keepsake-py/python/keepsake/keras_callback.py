"""A Keras callback that records an experiment and a checkpoint per save (as Keepsake 0.4.2's),
for Keras 3 (any backend) and tf.keras 2.x.

A plain ``Callback`` (no private method of ``ModelCheckpoint``): it saves the model itself with
``model.save`` / ``model.save_weights`` at the end of each epoch (or every ``save_freq`` batches).
Importable without TensorFlow or Keras; creating the callback needs one of them.
"""

import os

import keepsake

from . import _callbacks
from .exceptions import InvalidArgument


def _load_keras():
    # The Keras that `model.fit` runs: TF_USE_LEGACY_KERAS picks tf_keras (tf.keras 2 beside
    # Keras 3); otherwise `keras` is tf.keras itself (Keras 3 from TF 2.16 on, the `keras`
    # 2.x package tf.keras loads before).
    if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true"):
        try:
            import tf_keras

            return tf_keras, None
        except ImportError:
            pass
    try:
        import keras

        return keras, None
    except ImportError as e:
        error = e
    try:
        from tensorflow import keras

        return keras, None
    except ImportError:
        return None, error


_keras, _import_error = _load_keras()
_Base = _keras.callbacks.Callback if _keras is not None else object


def _keras_version():
    # tf.keras's lazy module has no __version__: it is Keras 2 there.
    return getattr(_keras, "__version__", None) or "2"


def _keras_major():
    try:
        return int(_keras_version().split(".")[0])
    except ValueError:
        return 2


KERAS_3 = _keras is not None and _keras_major() >= 3

# Keepsake 0.4.2 saved `model.hdf5`; Keras 3 saves whole models as `.keras` (`.h5` is legacy)
# and weights only as `.weights.h5`.
if KERAS_3:
    DEFAULT_FILEPATH, DEFAULT_WEIGHTS_FILEPATH = "model.keras", "model.weights.h5"
else:
    DEFAULT_FILEPATH = DEFAULT_WEIGHTS_FILEPATH = "model.hdf5"

_DEFAULT = object()


def _check_extension(filepath, save_weights_only):
    if filepath is None:
        return
    if save_weights_only:
        # Keras 3 wants `.weights.h5`; tf.keras 2 writes TensorFlow's several-file format for
        # other names, which is not one file a checkpoint could record.
        ok = filepath.endswith(".weights.h5") if KERAS_3 else filepath.endswith((".h5", ".hdf5"))
        want = "'.weights.h5'" if KERAS_3 else "'.h5' or '.hdf5'"
    else:
        ok = not KERAS_3 or filepath.endswith((".keras", ".h5", ".hdf5"))
        want = "'.keras' (or the legacy '.h5')"
    if not ok:
        what = "weights" if save_weights_only else "models"
        raise InvalidArgument(
            f"filepath = {filepath!r}: Keras {_keras_version()} saves {what} to names ending in {want}"
        )


class KeepsakeCallback(_Base):
    """Creates an experiment when training begins (``keepsake.init(path=".")``) and records a
    checkpoint with the epoch's logs each time it saves the model to ``filepath``.

    ``filepath`` may hold ``{epoch}`` and metric placeholders, as ``ModelCheckpoint``'s; None saves
    no file (checkpoints of metrics only). ``save_freq`` is ``"epoch"`` or a number of batches.
    Params are ``params`` over what Keras tells about the run: epochs, steps per epoch, the
    optimizer's configuration, the loss and the model's class, name and parameter count.
    """

    def __init__(self, filepath=_DEFAULT, params=None, primary_metric=None, save_freq="epoch", save_weights_only=False):
        if _keras is None:
            raise _callbacks.framework_missing(f"Keras or TensorFlow ({_import_error})", "keras (or tensorflow)")
        if not isinstance(save_weights_only, bool):
            raise InvalidArgument(f"save_weights_only = {save_weights_only!r} must be True or False")
        if filepath is _DEFAULT:
            filepath = DEFAULT_WEIGHTS_FILEPATH if save_weights_only else DEFAULT_FILEPATH
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise InvalidArgument(f"save_freq = {save_freq!r} must be 'epoch' or a number of batches (1 or more)")
        self.keepsake_params = _callbacks.check_params(params)
        self.primary_metric = _callbacks.check_primary_metric(primary_metric)
        # Outside a project this raises here, before training and before any experiment.
        self._project_dir = keepsake.Project()._core.directory
        self.filepath = _callbacks.check_filepath(filepath, self._project_dir)
        _check_extension(self.filepath, save_weights_only)
        super().__init__()
        self.save_freq = save_freq
        self.save_weights_only = save_weights_only
        self.experiment = None
        self.step = 0
        self._epoch = 0
        self._batches_since_save = 0
        self._metrics = _callbacks.Metrics()
        if save_freq == "epoch":
            # tf.keras calls batch hooks (and copies the logs to Python every batch) only for
            # callbacks that override them: keep the inherited no-op.
            self.on_train_batch_end = _Base.on_train_batch_end.__get__(self)

    def on_train_begin(self, logs=None):
        self.step = 0
        self._batches_since_save = 0
        self.experiment = keepsake.init(path=".", params=self._run_params())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, logs, batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def on_train_end(self, logs=None):
        if self.experiment is not None:
            self.experiment.stop()

    def _save(self, epoch, logs, batch=None):
        if self.experiment is None:
            return
        try:
            metrics = self._metrics.convert(logs)
            path = None
            if self.filepath is not None:
                values = dict(logs or {}, epoch=epoch + 1)
                if batch is not None:
                    values["batch"] = batch + 1
                formatted = _callbacks.format_path(self.filepath, **values)
                path = _callbacks.project_relative(formatted, self._project_dir)
                parent = os.path.dirname(formatted)
                if parent:
                    os.makedirs(parent, exist_ok=True)
                if self.save_weights_only:
                    self.model.save_weights(formatted)
                else:
                    self.model.save(formatted)
            pm = self._metrics.primary_metric(self.primary_metric, metrics)
            self.experiment.checkpoint(path=path, step=self.step, metrics=metrics, primary_metric=pm, quiet=True)
        except BaseException:
            self._forget_if_empty()
            raise
        self.step += 1

    def _forget_if_empty(self):
        if _callbacks.delete_if_empty(self.experiment):
            self.experiment = None

    def _run_params(self):
        run = {}
        keras_params = getattr(self, "params", None) or {}
        if keras_params.get("epochs") is not None:
            run["epochs"] = keras_params["epochs"]
        if keras_params.get("steps") is not None:
            run["steps_per_epoch"] = keras_params["steps"]
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and callable(getattr(optimizer, "get_config", None)):
            try:
                config = _callbacks.optimizer_config(optimizer.get_config())
            except Exception:
                config = {}
            if config:
                run["optimizer"] = {k: _callbacks.float32_rounded(v) for k, v in config.items()}
        loss = _loss_name(getattr(model, "loss", None))
        if loss is not None:
            run["loss"] = loss
        summary = {"class": type(model).__name__, "name": getattr(model, "name", None)}
        try:
            summary["parameters"] = int(model.count_params())
        except Exception:  # a model not built yet has no count
            pass
        run["model"] = {k: v for k, v in summary.items() if v is not None}
        run.update(self.keepsake_params)
        return run


def _loss_name(loss):
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        names = {str(k): _loss_name(v) for k, v in loss.items()}
        return {k: v for k, v in names.items() if v is not None} or None
    if isinstance(loss, (list, tuple)):
        return [n for n in (_loss_name(v) for v in loss) if n is not None] or None
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return name if isinstance(name, str) else None
