"""The framework callbacks where their frameworks are not installed (this venv has none; the
frameworks' own runs are tests/frameworks/, through scripts/test-frameworks.sh)."""

import importlib.util

import pytest

from keepsake import exceptions
from conftest import ls_json

CALLBACKS = [
    ("keras_callback", ("keras", "tensorflow")),
    ("pl_callback", ("lightning", "pytorch_lightning")),
    ("hf_callback", ("transformers",)),
]


@pytest.mark.parametrize("module, frameworks", CALLBACKS)
def test_a_missing_framework_fails_at_construction_and_leaves_no_experiment(project, module, frameworks):
    if any(importlib.util.find_spec(f) for f in frameworks):
        pytest.skip(f"{frameworks} installed here")
    callback = importlib.import_module(f"keepsake.{module}").KeepsakeCallback
    with pytest.raises(exceptions.FrameworkMissing, match=r"needs .* not installed: pip install") as info:
        callback()
    assert isinstance(info.value, exceptions.KeepsakeError) and isinstance(info.value, ImportError)
    assert ls_json() == []
