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


class Checkpoint:
    """A checkpoint. ``metrics`` is a dict; ``primary_metric`` is ``{"name", "goal"}`` or None."""

    def __init__(self, data, experiment=None):
        self.id = data["id"]
        self.created = parse_time(data.get("created"))
        self.path = data.get("path") or None
        self.step = data.get("step", 0)
        self.metrics = _values.decode(data.get("metrics")) or None
        self.primary_metric = data.get("primary_metric")
        self._experiment = experiment
        # The record as the core wrote it, for rules the core applies (the best checkpoint).
        self._data = data

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

        plot_checkpoints(self, metric or self.primary_metric(), logy=logy, plot_only=plot_only)
