"""Projects: where experiments are stored (keepsake.yaml, or the git repository's default store)."""

import atexit
import getpass
import json
import os
import platform
import shlex
import socket
import sys
import warnings

from . import _core, _values, experiment as _experiment
from .exceptions import InvalidArgument, KeepsakeWarning
from .experiment import Experiment, ExperimentList


def _user():
    try:
        return getpass.getuser()
    except Exception:
        return ""


def _imported_packages():
    """Versions of the installed distributions that this process has imported."""
    try:
        import importlib.metadata as md
    except ImportError:
        return {}
    out = {}
    for dist in md.distributions():
        name = dist.metadata.get("Name") if dist.metadata else None
        if not name:
            continue
        key = name.lower().replace("_", "-")
        if key in sys.modules or key.replace("-", "_") in sys.modules or name in sys.modules:
            out[key] = dist.version
    return out


class ExperimentCollection:
    def __init__(self, project):
        self._project = project

    def create(self, path=None, params=None, quiet=False, disable_heartbeat=False):
        """Creates an experiment, saving the code at ``path`` (relative to the project directory)."""
        if path == "":
            path = None
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidArgument(f"path = {path!r} must be a string")
        spec = {
            "path": None if path is None else os.fspath(path),
            "params": _values.encode_mapping(params, "params"),
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "user": _user(),
            "host": socket.gethostname(),
            "python_version": platform.python_version(),
            "python_packages": _imported_packages(),
        }
        core = self._project._core
        recorder = core.create(json.dumps(spec, allow_nan=False), not disable_heartbeat)
        exp = Experiment(self._project, json.loads(recorder.experiment()), recorder)
        _experiment._track(exp)
        if not quiet:
            saving = f", saved '{path}' to {core.repository}" if path else ""
            print(f"keepsake: experiment {exp.short_id()}{saving}", file=sys.stderr)
        return exp

    def get(self, experiment_id_prefix):
        """The experiment whose ID starts with the prefix."""
        return Experiment(self._project, json.loads(self._project._core.get(experiment_id_prefix)))

    def list(self, filter=None):
        """Every experiment, oldest first; ``filter`` is a callable that keeps an experiment."""
        items = [Experiment(self._project, d) for d in json.loads(self._project._core.list())]
        items.sort(key=lambda e: (e.created, e.id))
        if filter is None:
            return ExperimentList(items)
        kept = []
        for e in items:
            try:
                if filter(e):
                    kept.append(e)
            except Exception as exc:
                warnings.warn(f"filter failed on experiment {e.short_id()}: {exc}", KeepsakeWarning, stacklevel=2)
        return ExperimentList(kept)


class Project:
    """A project. ``repository`` overrides keepsake.yaml; ``directory`` is the project directory."""

    def __init__(self, repository=None, directory=None, debug=False):
        self.repository = repository
        self.directory = None if directory is None else os.fspath(directory)
        self.debug = debug
        self._core_handle = None

    @property
    def _core(self):
        # Reopened in a forked child, and when the working directory changed (the default
        # project follows it, as Keepsake's did).
        key = (os.getpid(), None if self.directory else os.getcwd())
        if self._core_handle is None or self._core_key != key:
            self._core_handle = _core.ProjectCore(self.repository, self.directory)
            self._core_key = key
        return self._core_handle

    @property
    def experiments(self):
        return ExperimentCollection(self)


atexit.register(_experiment._finish_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_experiment._forget_in_child)
