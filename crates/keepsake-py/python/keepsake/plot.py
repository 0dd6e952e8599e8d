"""Plots of metrics over steps (matplotlib, imported only when a plot is asked for)."""

from .exceptions import KeepsakeError


def require_matplotlib():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise KeepsakeError("plot() needs matplotlib: pip install matplotlib") from e
    return plt


def plot_checkpoints(checkpoints, metric, logy=False, plot_only=False, label=None):
    """Draws into the current axes, as Keepsake 0.4.2's did (so that calling it for several
    experiments overlays them); ``plot_only`` leaves out the labels and legend."""
    plt = require_matplotlib()
    values = checkpoints.metrics[metric]
    steps = checkpoints.step
    x = steps if all(s is not None for s in steps) else list(range(len(values)))
    plt.plot(x, values, label=label)
    if not plot_only:
        plt.xlabel("step")
        plt.ylabel(metric)
        if label is not None:
            plt.legend(bbox_to_anchor=(1, 1))
        if logy:
            plt.yscale("log")
