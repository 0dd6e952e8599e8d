"""A Hugging Face ``transformers.Trainer`` callback that records an experiment and a checkpoint
per save, with the checkpoint directory the Trainer saved.

Importable without transformers; creating the callback needs it.
"""

import os

import keepsake

from . import _callbacks

try:  # pragma: no cover - depends on what is installed
    from transformers import TrainerCallback as _Base
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    _import_error = None
except ImportError as e:  # pragma: no cover
    _Base, PREFIX_CHECKPOINT_DIR, _import_error = object, "checkpoint", e


class KeepsakeCallback(_Base):
    """Creates an experiment when training begins (``keepsake.init(path=".")``) and records a
    checkpoint each time the Trainer saves one: its files are the ``checkpoint-<step>/``
    directory, its step the global step, its metrics what the Trainer logged since the previous
    save (training loss, learning rate, epoch, and the evaluation's ``eval_*`` metrics).

    Params are ``params`` over the ``TrainingArguments`` and the model's config (as the Trainer's
    own integrations log them: the arguments win a clash), with the model's class and parameter
    count. The primary metric is ``primary_metric`` or else ``metric_for_best_model`` (with the
    Trainer's ``eval_`` prefix) and ``greater_is_better``. A Trainer that never saves
    (``save_strategy="no"``) gets one checkpoint without files, with the metrics, at the end.
    """

    def __init__(self, params=None, primary_metric=None):
        if _import_error is not None:
            raise _callbacks.framework_missing(f"transformers ({_import_error})", "transformers")
        self.keepsake_params = _callbacks.check_params(params)
        self.primary_metric = _callbacks.check_primary_metric(primary_metric)
        # Outside a project this raises here, before training and before any experiment.
        self._project_dir = keepsake.Project()._core.directory
        self.experiment = None
        self._metrics = _callbacks.Metrics()
        self._last_saved_step = None
        self._checked_args = None

    def on_init_end(self, args, state, control, **kwargs):
        # Called while the Trainer is being built: bad arguments fail there, before training.
        self._check_args(args)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._check_args(args)
        self._last_saved_step = None
        if state.is_world_process_zero:
            self.experiment = keepsake.init(path=".", params=self._run_params(args, model))

    def on_save(self, args, state, control, **kwargs):
        if self.experiment is None:
            return
        folder = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        path = None
        if os.path.isdir(folder):
            path = _callbacks.project_relative(folder, self._project_dir, "TrainingArguments.output_dir")
        else:
            _callbacks.warn(f"the Trainer saved no {folder}: checkpoint {state.global_step} is recorded without files")
        self._record(args, state, path)

    def on_train_end(self, args, state, control, **kwargs):
        if self.experiment is None:
            return
        try:
            if self._last_saved_step is None and state.log_history:
                self._record(args, state, None)
        finally:
            experiment, self.experiment = self.experiment, None
            experiment.stop()

    def _record(self, args, state, path):
        merged = {}
        for entry in state.log_history:
            step = entry.get("step", 0)
            if self._last_saved_step is not None and step <= self._last_saved_step:
                continue
            merged.update({k: v for k, v in entry.items() if k != "step"})
        metrics = self._metrics.convert(merged)
        pm = self._metrics.primary_metric(self._primary_metric(args), metrics)
        try:
            self.experiment.checkpoint(path=path, step=state.global_step, metrics=metrics, primary_metric=pm, quiet=True)
        except BaseException:
            self._forget_if_empty()
            raise
        self._last_saved_step = state.global_step

    def _forget_if_empty(self):
        if _callbacks.delete_if_empty(self.experiment):
            self.experiment = None

    def _primary_metric(self, args):
        if self.primary_metric is not None:
            return self.primary_metric
        name = getattr(args, "metric_for_best_model", None)
        if not name:
            return None
        # The Trainer compares `eval_<name>` (it adds the prefix when missing).
        if not name.startswith("eval_"):
            name = f"eval_{name}"
        greater = getattr(args, "greater_is_better", None)
        if greater is None:
            greater = not name.endswith("loss")
        return (name, "maximize" if greater else "minimize")

    def _check_args(self, args):
        if self._checked_args is args:
            return
        output_dir = getattr(args, "output_dir", None)
        if output_dir is not None and getattr(args, "save_strategy", "no") not in ("no", None):
            _callbacks.project_relative(output_dir, self._project_dir, "TrainingArguments.output_dir")
        self._checked_args = args

    def _run_params(self, args, model):
        run = {}
        config = getattr(model, "config", None)
        if config is not None and callable(getattr(config, "to_dict", None)):
            run.update(_callbacks.clean_params(config.to_dict()))
        if model is not None:
            run["model_class"] = type(model).__name__
            try:
                run["model_parameters"] = sum(p.numel() for p in model.parameters())
            except Exception:
                pass
        # to_dict() gives enums as their values and hides tokens.
        run.update(_callbacks.clean_params(args.to_dict()))
        run.update(self.keepsake_params)
        return run
