"""Checkpoints: a step of a training run, with its metrics and (optionally) files."""

import datetime
import io

from . import _values
from .exceptions import DoesNotExist
from .plot import plot_checkpoints


def parse_time(s):
    """RFC 3339 with up to 9 fractional digits, as an aware UTC datetime."""
    if not s:
        return None
    s = s.rstrip("Z")
    if "." in s:
        main, frac = s.split(".", 1)
        s = f"{main}.{frac[:6].ljust(6, '0')}"
        fmt = "%Y-%m-%dT%H:%M:%S.%f"
    else:
        fmt = "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc)


class _Stream(io.RawIOBase):
    """A file inside a checkpoint, streamed from storage chunk by chunk."""

    def __init__(self, core_stream, name):
        self._core = core_stream
        self.name = name

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._core.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def close(self):
        if not self.closed:
            self._core.close()
        super().close()


def _format_time(t):
    if not isinstance(t, datetime.datetime):
        return t
    if t.tzinfo is not None:
        t = t.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Checkpoint:
    """A checkpoint. ``metrics`` is a dict; ``primary_metric`` is ``{"name", "goal"}`` or None.

    Built from Keepsake 0.4.2's keyword fields (``Checkpoint(id=..., created=..., step=...,
    metrics=..., primary_metric=...)``) as Keepsake's tests and notebooks do; such a checkpoint
    belongs to no experiment until it is read back from one.
    """

    def __init__(self, id, created=None, path=None, step=None, metrics=None, primary_metric=None):
        self.id = id
        self.created = created
        self.path = path or None
        self.step = step
        self.metrics = metrics
        self.primary_metric = primary_metric
        self._experiment = None
        # The record in the core's shape, for rules the core applies (the best checkpoint).
        self._data = {
            "id": id,
            "created": _format_time(created),
            "path": path or "",
            "step": step,
            "metrics": _values.encode_mapping(metrics, "metrics") if metrics else None,
            "primary_metric": primary_metric,
        }

    @classmethod
    def _from_record(cls, data, experiment=None):
        """A checkpoint as the core recorded it (its JSON record)."""
        c = cls.__new__(cls)
        c.id = data["id"]
        c.created = parse_time(data.get("created"))
        c.path = data.get("path") or None
        c.step = data.get("step", 0)
        c.metrics = _values.decode(data.get("metrics")) or None
        c.primary_metric = data.get("primary_metric")
        c._experiment = experiment
        c._data = data
        return c

    def __eq__(self, other):
        if not isinstance(other, Checkpoint):
            return NotImplemented
        fields = ("id", "created", "path", "step", "metrics", "primary_metric")
        return all(getattr(self, f) == getattr(other, f) for f in fields)

    def __hash__(self):
        return hash(self.id)

    def short_id(self):
        return self.id[:7]

    def __repr__(self):
        return f"Checkpoint(id={self.short_id()!r}, step={self.step}, metrics={self.metrics!r})"

    def _project(self):
        if self._experiment is None:
            raise DoesNotExist(f"Checkpoint {self.short_id()} is not attached to an experiment")
        return self._experiment._project

    def checkout(self, output_directory, quiet=False):
        """Writes the experiment's code and this checkpoint's files into ``output_directory``."""
        exp = self._experiment
        self._project()._core.checkout(exp.id, self.id, str(output_directory), True, quiet)

    def open(self, path):
        """A binary stream of one file of this checkpoint (or of its experiment's code)."""
        stream = self._project()._core.open(self._experiment.id, self.id, str(path))
        return io.BufferedReader(_Stream(stream, path), buffer_size=256 * 1024)


class _MetricsView:
    def __init__(self, checkpoints):
        self._checkpoints = checkpoints

    def __getitem__(self, name):
        values = [(c.metrics or {}).get(name) for c in self._checkpoints]
        if all(v is None for v in values) and not any(name in (c.metrics or {}) for c in self._checkpoints):
            raise KeyError(name)
        return values


class CheckpointList(list):
    """The checkpoints of an experiment, in the order they were recorded."""

    def __getitem__(self, index):
        result = super().__getitem__(index)
        return CheckpointList(result) if isinstance(index, slice) else result

    @property
    def metrics(self):
        return _MetricsView(self)

    @property
    def step(self):
        return [c.step for c in self]

    def primary_metric(self):
        names = {c.primary_metric["name"] for c in self if c.primary_metric}
        if not names:
            raise ValueError("No primary metric is defined for the checkpoints in this experiment")
        if len(names) > 1:
            raise ValueError(f"The primary metric differs between checkpoints: {sorted(names)}")
        return names.pop()

    def plot(self, metric=None, logy=False, plot_only=False):
        """Plots a metric (default: the primary metric) against the step, in a new figure
        unless ``plot_only``. Needs matplotlib."""
        first = self[0]._experiment if len(self) else None
        label = first.short_id() if first is not None else None
        plot_checkpoints(self, metric or self.primary_metric(), logy=logy, plot_only=plot_only, label=label)
