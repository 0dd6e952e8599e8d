"""What the framework callbacks (keras_callback, pl_callback, hf_callback) share: checking their
arguments at construction, turning a framework's metrics and configuration into storable values,
and paths relative to the project directory."""

import enum
import math
import os
import string
import warnings

from .exceptions import InvalidArgument, KeepsakeWarning

GOALS = ("maximize", "minimize")


def check_primary_metric(primary_metric):
    """``None`` or ``(name, goal)``; anything else raises naming the value."""
    if primary_metric is None:
        return None
    if not isinstance(primary_metric, (tuple, list)) or len(primary_metric) != 2:
        raise InvalidArgument(
            f"primary_metric = {primary_metric!r}: it must be a tuple (name, goal) with goal 'maximize' or 'minimize'"
        )
    name, goal = primary_metric
    if not isinstance(name, str) or not name:
        raise InvalidArgument(f"primary_metric name {name!r} must be a non-empty string (a metric's name)")
    if goal not in GOALS:
        raise InvalidArgument(f"primary_metric goal {goal!r} must be 'maximize' or 'minimize'")
    return (name, goal)


def check_params(params):
    if params is not None and not isinstance(params, dict):
        raise InvalidArgument(f"params must be a dict, not {type(params).__name__}: {params!r}")
    return dict(params or {})


def check_filepath(filepath, project_dir, name="filepath"):
    """A filepath to save to: a string (its ``{placeholders}`` well formed) naming a place inside
    the project directory, or None. Returned as given."""
    if filepath is None:
        return None
    if not isinstance(filepath, (str, os.PathLike)):
        raise InvalidArgument(f"{name} = {filepath!r} must be a string or None")
    filepath = os.fspath(filepath)
    if filepath == "":
        raise InvalidArgument(f"{name} is an empty string: pass {name}=None to save no files")
    try:
        list(string.Formatter().parse(filepath))
    except ValueError as e:
        raise InvalidArgument(f"{name} = {filepath!r} is not a valid format string: {e}") from None
    project_relative(filepath, project_dir, name)
    return filepath


def project_relative(path, project_dir, name="filepath"):
    """``path`` (relative to the working directory, as frameworks save) relative to the project
    directory, as checkpoints name their files; raises if it is outside the project."""
    rel = os.path.relpath(os.path.abspath(path), os.path.realpath(project_dir))
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise InvalidArgument(
            f"{name} = {path!r} is not inside the project directory {project_dir}: "
            "checkpoints record files of the project"
        )
    return rel


def format_path(filepath, name="filepath", **values):
    """``filepath.format(**values)``; a placeholder that names nothing known raises naming it."""
    try:
        return filepath.format(**values)
    except (KeyError, IndexError) as e:
        known = ", ".join(sorted(values)) or "none"
        raise InvalidArgument(f"{name} = {filepath!r} has the placeholder {{{e.args[0]}}}: known ones are {known}") from None
    except (ValueError, TypeError) as e:
        raise InvalidArgument(f"{name} = {filepath!r} cannot be formatted: {e}") from None


_NOT_SCALAR = object()


def to_number(value):
    """A metric as a Python number: tensors and arrays of one element (torch, numpy, JAX,
    TensorFlow) become their value; anything else (a tensor of several elements, a string) is
    ``_NOT_SCALAR``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if hasattr(value, "detach") and hasattr(value, "numel"):  # torch
        if value.numel() != 1:
            return _NOT_SCALAR
        return value.detach().cpu().item()
    if not hasattr(value, "item") and callable(getattr(value, "numpy", None)):  # tensorflow
        value = value.numpy()
    item, size = getattr(value, "item", None), getattr(value, "size", None)
    if callable(item) and size == 1:  # numpy, JAX
        value = item()
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else _NOT_SCALAR
    return _NOT_SCALAR


class Metrics:
    """Turns metrics dicts into numbers, warning once per name about one that is not a number."""

    def __init__(self):
        self._warned = set()

    def convert(self, mapping):
        out = {}
        for key, value in (mapping or {}).items():
            if value is None:
                continue
            number = to_number(value)
            if number is _NOT_SCALAR:
                if key not in self._warned:
                    self._warned.add(key)
                    shape = getattr(value, "shape", None)
                    what = f"a tensor of shape {tuple(shape)}" if shape is not None else f"{type(value).__name__} {value!r}"
                    warn(f"metric {key!r} is {what}, not one number: it is not recorded")
                continue
            out[str(key)] = number
        return out

    def primary_metric(self, primary_metric, metrics):
        """The primary metric for a checkpoint with these metrics: None (with a warning, once)
        when its name is not among them."""
        if primary_metric is None:
            return None
        name = primary_metric[0]
        if name in metrics:
            return primary_metric
        if ("primary", name) not in self._warned:
            self._warned.add(("primary", name))
            known = ", ".join(sorted(metrics)) or "none"
            warn(f"primary_metric {name!r} is not among the metrics ({known}): checkpoints without it have no primary metric")
        return None


def json_safe(value, depth=0):
    """A framework's configuration value as params can store it: numbers, strings, booleans,
    None, lists and dicts; enums as their value, one-element arrays as numbers, and what is
    neither (objects, functions) left out (``_NOT_SCALAR``)."""
    if depth > 20:
        return _NOT_SCALAR
    if isinstance(value, enum.Enum):  # before str: many are str enums
        return json_safe(value.value, depth + 1)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return _NOT_SCALAR  # params hold 64-bit integers
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = json_safe(v, depth + 1)
            if v is not _NOT_SCALAR:
                out[str(k)] = v
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [json_safe(v, depth + 1) for v in (sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value)]
        return [v for v in items if v is not _NOT_SCALAR]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return to_number(value)


def clean_params(mapping):
    """``json_safe`` of a dict, keeping the keys whose values can be stored."""
    cleaned = json_safe(mapping or {})
    return cleaned if isinstance(cleaned, dict) else {}


def optimizer_config(config):
    """An optimizer's configuration as params, without the settings left unset (None)."""
    return {k: v for k, v in clean_params(config).items() if v is not None}


def float32_rounded(value):
    """A float read back from a float32 variable (0.009999999776482582) as the float32's shortest
    form (0.01), as the user wrote it."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    try:
        import numpy
    except ImportError:
        return value
    f32 = numpy.float32(value)
    if float(f32) != value:
        return value
    return float(str(f32))


def delete_if_empty(experiment):
    """Deletes an experiment that has no checkpoint (its callback's first save failed), so a
    failed try leaves none behind; True when it is gone."""
    if experiment is None or experiment.checkpoints:
        return False
    try:
        experiment.delete()
    except Exception as e:
        warn(f"could not delete the empty experiment {experiment.short_id()}: {e}")
    return True


def warn(message):
    warnings.warn(message, KeepsakeWarning, stacklevel=3)


def framework_missing(what, install):
    from .exceptions import FrameworkMissing

    return FrameworkMissing(f"KeepsakeCallback needs {what}, which is not installed: pip install {install}")
