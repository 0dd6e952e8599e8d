"""Plots of metrics over steps (matplotlib, imported only when a plot is asked for)."""

from .exceptions import KeepsakeError


def require_matplotlib():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise KeepsakeError("plot() needs matplotlib: pip install matplotlib") from e
    return plt


def plot_checkpoints(checkpoints, metric, logy=False, plot_only=False, label=None):
    plt = require_matplotlib()
    values = checkpoints.metrics[metric]
    steps = checkpoints.step
    x = steps if all(s is not None for s in steps) else list(range(len(values)))
    plt.plot(x, values, label=label)
    if logy:
        plt.yscale("log")
    if not plot_only:
        plt.xlabel("step")
        plt.ylabel(metric)
