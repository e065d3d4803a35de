"""What a test needs from outside the project, found or the test does not run.

CI (``CI`` set, as ``.ci/run`` does) installs every one of them, so there a
missing one fails the test instead of skipping it quietly; on a developer's
machine it skips with the reason."""
from __future__ import annotations

import importlib
import os
import shutil

import pytest


def on_ci() -> bool:
    return bool(os.environ.get("CI"))


def module(name: str):
    """``import name``; a skip off CI when it is not installed."""
    if on_ci():
        return importlib.import_module(name)
    return pytest.importorskip(name)


def program(name: str) -> str:
    """The path of the program ``name``; a skip off CI when it is missing."""
    path = shutil.which(name)
    if path is None:
        if on_ci():
            pytest.fail(f"{name} is not installed, and .ci/run installs it")
        pytest.skip(f"{name} is not installed")
    return path
