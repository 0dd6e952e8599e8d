from typing import Any, Dict, Optional

from . import exceptions as exceptions
from .checkpoint import Checkpoint as Checkpoint, CheckpointList as CheckpointList
from .exceptions import KeepsakeError as KeepsakeError
from .experiment import Experiment as Experiment, ExperimentList as ExperimentList
from .project import ExperimentCollection as ExperimentCollection, Project as Project

__version__: str
default_project: Project
experiments: ExperimentCollection

def init(
    path: Optional[str] = None,
    params: Optional[Dict[str, Any]] = None,
    disable_heartbeat: bool = False,
    debug: bool = False,
) -> Experiment: ...
