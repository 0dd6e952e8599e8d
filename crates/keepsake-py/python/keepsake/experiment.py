"""Experiments: a training run's code, params and checkpoints."""

import html
import json
import math
import os
import signal
import sys
import threading
import warnings

from . import _core, _values
from .checkpoint import Checkpoint, CheckpointList, parse_time
from .plot import plot_checkpoints, require_matplotlib
from .exceptions import InvalidArgument, KeepsakeError, KeepsakeWarning

GOALS = ("maximize", "minimize")
MAX_STEP = 2**63 - 1


def _validate_primary_metric(primary_metric, metrics):
    if primary_metric is None:
        return None
    if not isinstance(primary_metric, (tuple, list)) or len(primary_metric) != 2:
        raise InvalidArgument(
            f"primary_metric = {primary_metric!r}: it must be a tuple (name, goal) with goal 'maximize' or 'minimize'"
        )
    name, goal = primary_metric
    if not isinstance(name, str):
        raise InvalidArgument(f"primary_metric name {name!r} must be a string")
    if goal not in GOALS:
        raise InvalidArgument(f"primary_metric goal {goal!r} must be 'maximize' or 'minimize'")
    if not metrics or name not in metrics:
        known = ", ".join(sorted(metrics or {})) or "none"
        raise InvalidArgument(f"primary_metric {name!r} is not among the metrics ({known})")
    return {"name": name, "goal": goal}


class Experiment:
    """An experiment. Created by ``keepsake.init()``; read back by ``keepsake.experiments``."""

    def __init__(
        self,
        project,
        id,
        created=None,
        user=None,
        host=None,
        command=None,
        config=None,
        path=None,
        params=None,
        python_version=None,
        python_packages=None,
        keepsake_version=None,
        checkpoints=None,
    ):
        """Keepsake 0.4.2's fields, as its tests and notebooks build experiments; one read back
        from a project comes from ``project.experiments``."""
        self._setup(project, None)
        self.id = id
        self.created = created
        self.user = user
        self.host = host
        self.command = command
        self.config = config
        self.path = path
        self.params = params
        self.python_version = python_version
        self.python_packages = python_packages
        self.keepsake_version = keepsake_version
        self.git_commit = None
        self.git_dirty = False
        self._running = False
        self.checkpoints = CheckpointList(checkpoints or [])
        for c in self.checkpoints:
            if c._experiment is None:
                c._experiment = self
        self._after_load()

    @classmethod
    def _from_record(cls, project, data, recorder=None):
        """An experiment as the core recorded it (its JSON record)."""
        exp = cls.__new__(cls)
        exp._setup(project, recorder)
        exp._load(data)
        exp._after_load()
        return exp

    def _setup(self, project, recorder):
        self._project = project
        self._recorder = recorder
        # Whether this process started the run (and beats its heartbeat): only then does the
        # end of the process mark it stopped.
        self._owns_run = recorder is not None
        self._stopped = False
        self._pid = os.getpid()
        self._next_step = 0

    def _after_load(self):
        steps = [c.step for c in self.checkpoints if isinstance(c.step, int)]
        if steps:
            self._next_step = max(steps) + 1

    def _load(self, data):
        self.id = data["id"]
        self.created = parse_time(data.get("created"))
        self.params = _values.decode(data.get("params")) or None
        self.user = data.get("user") or None
        self.host = data.get("host") or None
        self.command = data.get("command")
        self.config = data.get("config")
        self.path = data.get("path") or None
        self.python_version = data.get("python_version")
        self.python_packages = data.get("python_packages")
        self.keepsake_version = data.get("keepsake_version")
        self.git_commit = data.get("git_commit")
        self.git_dirty = data.get("git_dirty", False)
        self._running = data.get("running", False)
        self.checkpoints = CheckpointList(Checkpoint._from_record(c, self) for c in (data.get("checkpoints") or []))

    def short_id(self):
        return self.id[:7]

    def __repr__(self):
        return f"Experiment(id={self.short_id()!r}, params={self.params!r}, checkpoints={len(self.checkpoints)})"

    @property
    def duration(self):
        latest = self.latest()
        if latest is None or latest.created is None or self.created is None:
            return None
        return latest.created - self.created

    def checkpoint(self, path=None, step=None, metrics=None, primary_metric=None, quiet=False):
        """Records a checkpoint. With a local store it returns once the checkpoint is saved;
        with S3 or GCS at once, its files uploading in the background (``wait()``, ``stop()``
        and the end of the process wait for them).

        Bad arguments raise ``keepsake.exceptions.InvalidArgument`` and consume no step.
        """
        if os.getpid() != self._pid:
            warnings.warn("checkpoint() in a forked child process is ignored", KeepsakeWarning, stacklevel=2)
            return None
        if self._stopped:
            raise InvalidArgument(
                f"experiment {self.short_id()} is stopped: checkpoint() after stop() records nothing"
            )
        if path == "":
            raise InvalidArgument("path is an empty string: pass path=None (or omit it) to save no files")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidArgument(f"path = {path!r} must be a string")
        if step is None:
            step = self._next_step
        elif isinstance(step, bool) or not isinstance(step, int):
            raise InvalidArgument(f"step = {step!r} must be an integer")
        if step < 0:
            raise InvalidArgument(f"step = {step} must not be negative")
        if step > MAX_STEP:
            raise InvalidArgument(f"step = {step} is too large: steps go up to 2**63-1 ({MAX_STEP})")
        encoded = _values.encode_mapping(metrics, "metrics")
        pm = _validate_primary_metric(primary_metric, metrics)
        spec = {"path": None if path is None else os.fspath(path), "step": step, "metrics": encoded, "primary_metric": pm}
        if self._recorder is None:
            self._recorder = self._project._core.resume(self.id)
            _track(self)
        data = json.loads(self._recorder.checkpoint(json.dumps(spec, allow_nan=False)))
        checkpoint = Checkpoint._from_record(data, self)
        self.checkpoints.append(checkpoint)
        self._next_step = step + 1
        if not quiet:
            done = "saved" if self._recorder.waits else "saving"
            what = f", {done} '{path}'" + ("" if self._recorder.waits else " in the background") if path else ""
            print(f"keepsake: checkpoint {checkpoint.short_id()} (step {step}){what}", file=sys.stderr)
        return checkpoint

    def wait(self):
        """Blocks until every checkpoint's files are saved.

        Raises ``keepsake.exceptions.WriteError`` naming the checkpoints that were not saved.
        """
        if self._recorder is not None and os.getpid() == self._pid:
            self._recorder.wait()

    def stop(self):
        """Waits for pending uploads, stops the heartbeat, and marks the experiment stopped.

        Raises ``keepsake.exceptions.WriteError`` naming the checkpoints that were not saved;
        the experiment is stopped all the same.
        """
        if os.getpid() != self._pid:
            return
        self._stopped = True
        recorder, self._recorder = self._recorder, None
        _live.discard(self)
        if recorder is not None:
            recorder.stop()

    def is_running(self):
        return self._project._core.is_running(self.id)

    def refresh(self):
        self._load(json.loads(self._project._core.get(self.id)))

    def delete(self):
        """Deletes the experiment: its ref, notes line, metadata and files."""
        self.stop()
        self._project._core.delete(self.id)

    def latest(self):
        return self.checkpoints[-1] if self.checkpoints else None

    def best(self):
        """The best checkpoint by the primary metric (None and NaN values never win): the core's
        one rule, the one ``ls`` and ``show`` apply."""
        best_id = _core.best_checkpoint_id(json.dumps([c._data for c in self.checkpoints]))
        return next((c for c in self.checkpoints if c.id == best_id), None)

    def primary_metric(self):
        return self.checkpoints.primary_metric()

    def plot(self, metric=None, logy=False, plot_only=False):
        """Plots a metric (default: the primary metric) against the step. Needs matplotlib."""
        require_matplotlib()
        metric = metric or self.primary_metric()
        plot_checkpoints(self.checkpoints, metric, logy=logy, plot_only=plot_only, label=self.short_id())

    def _repr_html_(self):
        # Keepsake 0.4.2's layout; every value escaped.
        out = f'<p><b><pre style="display: inline">Experiment(id="{html.escape(self.id)}")</pre></b></p><p>'
        for name in ["created", "host", "user", "command", "duration"]:
            out += '<pre style="display: inline">{:10s}</pre> {}<br/>'.format(
                html.escape(name) + ":", html.escape(str(getattr(self, name)))
            )
        out += "</p>"
        out += '<p><b><pre style="display: inline">params:</pre></b></p>'
        out += '<table><tr><th style="text-align: left">Name</th><th style="text-align: left">Value</th></tr>'
        for key, value in (self.params or {}).items():
            out += '<tr><td style="text-align: left"><pre>{}</pre></td><td style="text-align: left">{}</td>'.format(
                html.escape(str(key)), html.escape(str(value))
            )
        out += "</table>"
        return out


class ExperimentList(list):
    """Experiments sorted by creation time."""

    def __getitem__(self, index):
        result = super().__getitem__(index)
        return ExperimentList(result) if isinstance(index, slice) else result

    def primary_metric(self):
        names = {e.primary_metric() for e in self if e.checkpoints}
        if len(names) != 1:
            raise ValueError(f"The experiments do not share one primary metric: {sorted(names)}")
        return names.pop()

    def plot(self, metric=None, logy=False):
        """Plots a metric (default: the shared primary metric) of every experiment against the
        step, in a new figure per call (Keepsake 0.4.2 drew each call into fresh axes)."""
        plt = require_matplotlib()
        metric = metric or self.primary_metric()
        plt.figure()
        for e in self:
            plot_checkpoints(e.checkpoints, metric, plot_only=True, label=e.short_id())
        plt.legend(bbox_to_anchor=(1, 1))
        plt.xlabel("step")
        plt.ylabel(metric)
        if logy:
            plt.yscale("log")

    def scatter(self, param, metric=None, logx=False, logy=False):
        plt = require_matplotlib()
        metric = metric or self.primary_metric()
        xs, ys = [], []
        for e in self:
            c = e.best() or e.latest()
            if c and c.metrics and metric in c.metrics and e.params and param in e.params:
                xs.append(e.params[param])
                ys.append(c.metrics[metric])
        plt.scatter(xs, ys)
        if logx:
            plt.xscale("log")
        if logy:
            plt.yscale("log")
        plt.xlabel(param)
        plt.ylabel(metric)

    def delete(self):
        for e in self:
            e.delete()

    def _repr_html_(self):
        """A table as Keepsake 0.4.2's: id, created, user and host (when they differ), params,
        latest and best checkpoint; every cell escaped."""

        def differs(name):
            values = {getattr(e, name) or "" for e in self}
            # Keepsake hid the host when it was not recorded.
            return len(values) > 1 and not (name == "host" and "" in values)

        def checkpoint_cell(c):
            if c is None:
                return ""
            parens = []
            if c.step is not None:
                parens.append(f"step {c.step}")
            pm = c.primary_metric
            if pm and c.metrics and c.metrics.get(pm["name"]) is not None:
                parens.append(f"{pm['name']}: {c.metrics[pm['name']]}")
            return f"{c.short_id()} ({'; '.join(parens)})" if parens else c.short_id()

        headings = ["id", "created"] + [h for h in ("user", "host") if differs(h)]
        headings += ["params", "latest_checkpoint", "best_checkpoint"]
        out = ["<table><tr>"] + [f"<th>{html.escape(h)}</th>" for h in headings] + ["</tr>"]
        for e in self:
            out.append("<tr>")
            for h in headings:
                if h == "id":
                    cell = e.short_id()
                elif h == "latest_checkpoint":
                    cell = checkpoint_cell(e.latest())
                elif h == "best_checkpoint":
                    cell = checkpoint_cell(e.best())
                else:
                    cell = str(getattr(e, h))
                out.append(f"<th>{html.escape(cell)}</th>")
            out.append("</tr>")
        out.append("</table>")
        return "".join(out)


# Experiments recording in this process: saved and stopped at interpreter exit and on SIGTERM.
_live = set()
_sigterm = {"installed": False, "previous": None}


def _track(exp):
    _live.add(exp)
    _install_sigterm()


def _install_sigterm():
    """Saves what is pending when the process is asked to terminate (a job scheduler's SIGTERM),
    then lets the signal do what it did before: the user's handler, or terminating."""
    if _sigterm["installed"] or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous == signal.SIG_IGN:
            _sigterm["installed"] = True  # the process chose to survive SIGTERM: nothing to do
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not settable here (an embedded interpreter, say)
        return
    _sigterm["installed"] = True
    _sigterm["previous"] = previous


def _on_sigterm(signum, frame):
    previous = _sigterm["previous"]
    if callable(previous):
        # The user's handler decides whether the process ends (then exit stops the experiments);
        # what was recorded so far is saved before it runs.
        for exp in list(_live):
            if exp._pid == os.getpid():
                try:
                    exp.wait()
                except Exception as e:
                    print(f"keepsake: warning: {e}", file=sys.stderr)
        return previous(signum, frame)
    _finish_all()
    # Then die of SIGTERM, as without this handler (the parent sees the same exit status).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _finish_all():
    for exp in list(_live):
        if exp._pid == os.getpid():
            try:
                if exp._owns_run:
                    exp.stop()
                else:
                    # Checkpoints added to an experiment got from the store: saved, but the run
                    # (perhaps still going in another process) is not marked stopped.
                    _live.discard(exp)
                    exp.wait()
            except Exception as e:  # never turn a finished training run into a crash at exit
                print(f"keepsake: warning: finishing experiment {exp.short_id()} failed: {e}", file=sys.stderr)


def _forget_in_child():
    # A forked child (a DataLoader worker, say) owns none of its parent's experiments.
    _live.clear()
