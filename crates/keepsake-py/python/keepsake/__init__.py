"""git-keepsake: version control for machine learning, built into git.

A drop-in for Keepsake 0.4.2's Python API::

    import keepsake
    experiment = keepsake.init(path=".", params={"learning_rate": 0.01})
    for epoch in range(10):
        ...
        experiment.checkpoint(path="model.pth", step=epoch,
                              metrics={"loss": loss}, primary_metric=("loss", "minimize"))
"""

from . import exceptions
from ._core import __version__
from .checkpoint import Checkpoint, CheckpointList
from .exceptions import KeepsakeError
from .experiment import Experiment, ExperimentList
from .project import ExperimentCollection, Project, init

__all__ = [
    "Checkpoint",
    "CheckpointList",
    "Experiment",
    "ExperimentCollection",
    "ExperimentList",
    "KeepsakeError",
    "Project",
    "default_project",
    "exceptions",
    "experiments",
    "init",
]

default_project = Project()


def __getattr__(name):
    # `keepsake.experiments` is the default project's collection, resolved when first used.
    if name == "experiments":
        return default_project.experiments
    raise AttributeError(f"module 'keepsake' has no attribute {name!r}")
