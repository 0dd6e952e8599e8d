"""A PyTorch Lightning callback that records an experiment and a checkpoint per epoch.

Importable without PyTorch Lightning; creating the callback needs it.
"""

import keepsake

try:  # pragma: no cover - depends on what is installed
    from pytorch_lightning.callbacks import Callback as _Base
except ImportError:  # pragma: no cover
    try:
        from lightning.pytorch.callbacks import Callback as _Base
    except ImportError:
        _Base = None


class KeepsakeCallback(_Base or object):
    def __init__(self, filepath="model.pth", params=None, primary_metric=None, period=1, save_weights_only=False):
        if _Base is None:
            raise keepsake.exceptions.KeepsakeError("KeepsakeCallback needs PyTorch Lightning: pip install pytorch-lightning")
        super().__init__()
        self.filepath = filepath
        self.params = params
        self.primary_metric = primary_metric
        self.period = period
        self.save_weights_only = save_weights_only
        self.experiment = None
        self._last_global_step = None

    def on_fit_start(self, trainer, pl_module):
        self.experiment = keepsake.init(path=".", params=self.params)

    def on_train_epoch_end(self, trainer, pl_module):
        self._save(trainer)

    def on_validation_end(self, trainer, pl_module):
        self._save(trainer)

    def on_fit_end(self, trainer, pl_module):
        if self.experiment is not None:
            self.experiment.stop()

    def _save(self, trainer):
        if self.experiment is None or self.period < 1 or (trainer.current_epoch + 1) % self.period != 0:
            return
        if getattr(trainer, "sanity_checking", False) or self._last_global_step == trainer.global_step:
            return
        self._last_global_step = trainer.global_step
        if self.filepath is not None:
            trainer.save_checkpoint(self.filepath, self.save_weights_only)
        metrics = {}
        for source in (trainer.logged_metrics, trainer.callback_metrics, trainer.progress_bar_metrics):
            metrics.update({k: float(v) for k, v in source.items()})
        metrics["global_step"] = trainer.global_step
        pm = self.primary_metric if self.primary_metric and self.primary_metric[0] in metrics else None
        self.experiment.checkpoint(path=self.filepath, step=trainer.current_epoch, metrics=metrics, primary_metric=pm, quiet=True)
