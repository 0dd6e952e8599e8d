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
    """Versions of the installed distributions that this process has imported, by distribution
    name (``scikit-learn``, imported as ``sklearn``), through ``packages_distributions()``."""
    try:
        import importlib.metadata as md
    except ImportError:
        return {}
    imported = {name for name in list(sys.modules) if "." not in name}
    names = set()
    mapping = getattr(md, "packages_distributions", None)
    if mapping is not None:  # Python 3.10+
        try:
            for module, dists in mapping().items():
                if module in imported:
                    names.update(dists)
        except Exception:  # a broken distribution on sys.path must not stop init()
            pass
    # And by name, as before: an editable install lists no modules of its own.
    for dist in md.distributions():
        name = dist.metadata.get("Name") if dist.metadata else None
        if name and (name in imported or name.lower().replace("-", "_") in imported):
            names.add(name)
    out = {}
    for name in names:
        try:
            version = md.version(name)
        except Exception:
            continue
        if version:
            out[name.lower().replace("_", "-")] = version
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
        exp = Experiment._from_record(self._project, json.loads(recorder.experiment()), recorder)
        _experiment._track(exp)
        if not quiet:
            saving = f", saved '{path}' to {core.repository}" if path else ""
            print(f"keepsake: experiment {exp.short_id()}{saving}", file=sys.stderr)
        return exp

    def get(self, experiment_id_prefix):
        """The experiment whose ID starts with the prefix."""
        return Experiment._from_record(self._project, json.loads(self._project._core.get(experiment_id_prefix)))

    def list(self, filter=None):
        """Every experiment, oldest first. ``filter`` keeps some: a callable given each
        experiment, or a string in ``git keepsake ls --filter``'s grammar (``"lr > 0.005"``),
        which raises ``InvalidArgument`` for a name no experiment has, suggesting the closest."""
        if filter is not None and not isinstance(filter, str) and not callable(filter):
            raise InvalidArgument(f"filter = {filter!r} must be a callable or a string such as 'lr > 0.005'")
        text = filter if isinstance(filter, str) else None
        records = json.loads(self._project._core.list(text))
        items = [Experiment._from_record(self._project, d) for d in records]
        items.sort(key=lambda e: (e.created, e.id))
        if filter is None or text is not None:
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


def init(path=None, params=None, disable_heartbeat=False, debug=False):
    """Creates an experiment in the project of the current directory and returns it."""
    return Project(debug=debug).experiments.create(path=path, params=params, disable_heartbeat=disable_heartbeat)


class ProjectSpec:
    """repository.json's contents (Keepsake 0.4.2's name): the storage format version."""

    def __init__(self, version):
        self.version = version

    def __eq__(self, other):
        return isinstance(other, ProjectSpec) and other.version == self.version

    def __repr__(self):
        return f"ProjectSpec(version={self.version!r})"

    @classmethod
    def from_json(cls, data):
        return cls(**data)

    def to_json(self):
        return json.dumps({"version": self.version}, indent=2)


atexit.register(_experiment._finish_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_experiment._forget_in_child)
