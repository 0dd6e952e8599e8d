"""A PyTorch Lightning callback that records an experiment and a checkpoint per training epoch,
for Lightning 2.x (and 1.x's hook arguments) under ``lightning`` and ``pytorch_lightning``.

Importable without PyTorch Lightning; creating the callback needs it.
"""

import os

import keepsake

from . import _callbacks
from .exceptions import InvalidArgument


def _callback_bases():
    # Both packages' Callback when both are installed: a Trainer of either accepts the callback
    # (each checks isinstance against its own class), whichever the user's script imports.
    bases, errors = [], []
    for module in ("lightning.pytorch.callbacks", "pytorch_lightning.callbacks"):
        try:
            bases.append(__import__(module, fromlist=["Callback"]).Callback)
        except ImportError as e:
            errors.append(str(e))
    return tuple(bases), "; ".join(errors)


_bases, _import_error = _callback_bases()


class KeepsakeCallback(*(_bases or (object,))):
    """Creates an experiment when training starts (``keepsake.init(path=".")``) and, at the end of
    every ``period``-th training epoch, saves ``trainer.save_checkpoint(filepath)`` and records a
    checkpoint (step = the epoch) with that epoch's metrics.

    The checkpoint is recorded once the epoch is over (at the next epoch's start, or when training
    ends), so its metrics are the epoch's aggregates (``train_loss`` as the epoch mean and
    ``train_loss_epoch``), the same epoch's validation metrics, and what the LightningModule logged
    in its own ``on_train_epoch_end``; tensors become numbers, and a tensor of more than one
    element is left out with a warning (a metric is one number). ``filepath`` may hold
    ``{epoch}`` and ``{step}``; None saves no file. Params are ``params`` over the module's
    hparams, with the trainer's configuration, the optimizer, the batch size and the model.
    """

    def __init__(self, filepath="model.pth", params=None, primary_metric=None, period=1, save_weights_only=False):
        if not _bases:
            raise _callbacks.framework_missing(f"PyTorch Lightning ({_import_error})", "lightning")
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise InvalidArgument(f"period = {period!r} must be a whole number of epochs, 1 or more")
        if not isinstance(save_weights_only, bool):
            raise InvalidArgument(f"save_weights_only = {save_weights_only!r} must be True or False")
        self.keepsake_params = _callbacks.check_params(params)
        self.primary_metric = _callbacks.check_primary_metric(primary_metric)
        # Outside a project this raises here, before training and before any experiment.
        self._project_dir = keepsake.Project()._core.directory
        self.filepath = _callbacks.check_filepath(filepath, self._project_dir)
        super().__init__()
        self.period = period
        self.save_weights_only = save_weights_only
        self.experiment = None
        self._pending = None
        self._metrics = _callbacks.Metrics()

    # Hooks take *args: Lightning 1.x passed more arguments to some (on_train_epoch_end's
    # `outputs`), and 2.x fewer.

    def on_train_start(self, trainer, pl_module, *args, **kwargs):
        self._pending = None
        if trainer.is_global_zero:
            self.experiment = keepsake.init(path=".", params=self._run_params(trainer, pl_module))

    def on_train_epoch_start(self, trainer, pl_module, *args, **kwargs):
        self._record_pending(trainer)

    def on_train_epoch_end(self, trainer, pl_module, *args, **kwargs):
        epoch = trainer.current_epoch
        if getattr(trainer, "sanity_checking", False) or (epoch + 1) % self.period != 0:
            return
        path = None
        try:
            if self.filepath is not None:
                formatted = _callbacks.format_path(self.filepath, epoch=epoch, step=trainer.global_step)
                path = _callbacks.project_relative(formatted, self._project_dir)
                parent = os.path.dirname(formatted)
                if parent:
                    os.makedirs(parent, exist_ok=True)
                # Every process calls it: distributed strategies save collectively.
                trainer.save_checkpoint(formatted, weights_only=self.save_weights_only)
        except BaseException:
            self._forget_if_empty()
            raise
        # Recorded when the epoch is over: the LightningModule's own on_train_epoch_end runs after
        # this hook and may log metrics of this epoch.
        self._pending = {"path": path, "step": epoch, "global_step": trainer.global_step}

    def on_train_end(self, trainer, pl_module, *args, **kwargs):
        self._record_pending(trainer)
        self._stop()

    def on_exception(self, trainer, pl_module, *args, **kwargs):
        # The epochs that finished are recorded; the experiment ends with the run.
        try:
            self._record_pending(trainer)
        finally:
            self._stop()

    def _stop(self):
        if self.experiment is not None:
            experiment, self.experiment = self.experiment, None
            experiment.stop()

    def _record_pending(self, trainer):
        pending, self._pending = self._pending, None
        if pending is None or self.experiment is None:
            return
        merged = {}
        for source in ("logged_metrics", "callback_metrics", "progress_bar_metrics"):
            merged.update(getattr(trainer, source, None) or {})
        metrics = self._metrics.convert(merged)
        metrics["global_step"] = pending["global_step"]
        pm = self._metrics.primary_metric(self.primary_metric, metrics)
        try:
            self.experiment.checkpoint(path=pending["path"], step=pending["step"], metrics=metrics, primary_metric=pm, quiet=True)
        except BaseException:
            self._forget_if_empty()
            raise

    def _forget_if_empty(self):
        if _callbacks.delete_if_empty(self.experiment):
            self.experiment = None

    def _run_params(self, trainer, pl_module):
        run = {}
        hparams = getattr(pl_module, "hparams", None)
        if hparams:
            run.update(_callbacks.clean_params(dict(hparams)))
        config = {}
        for name in (
            "max_epochs", "min_epochs", "max_steps", "accumulate_grad_batches", "gradient_clip_val",
            "check_val_every_n_epoch", "val_check_interval", "precision", "num_devices", "num_nodes",
        ):
            try:
                value = _callbacks.json_safe(getattr(trainer, name))
            except Exception:
                continue
            if value is not None and value is not _callbacks._NOT_SCALAR:
                config[name] = value
        for name in ("accelerator", "strategy"):
            part = getattr(trainer, name, None)
            if part is not None:
                config[name] = type(part).__name__
        run["trainer"] = config
        optimizers = [_optimizer_params(o) for o in (getattr(trainer, "optimizers", None) or [])]
        if optimizers:
            run["optimizer"] = optimizers[0] if len(optimizers) == 1 else optimizers
        batch_size = getattr(getattr(trainer, "train_dataloader", None), "batch_size", None)
        if isinstance(batch_size, int):
            run["batch_size"] = batch_size
        model = {"class": type(pl_module).__name__}
        try:
            model["parameters"] = sum(p.numel() for p in pl_module.parameters())
        except Exception:
            pass
        run["model"] = model
        run.update(self.keepsake_params)
        return run


def _optimizer_params(optimizer):
    out = {"name": type(optimizer).__name__}
    out.update(_callbacks.optimizer_config(getattr(optimizer, "defaults", None) or {}))
    return out
