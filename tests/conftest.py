import datetime as dt

import pytest

from firmware_host.simulator.files import write_simulated
from firmware_host.simulator import Night


@pytest.fixture(scope="session")
def night_files(tmp_path_factory):
    """One 3-minute simulated night written in every trace format."""
    d = tmp_path_factory.mktemp("nights")
    night = Night(3, seed=2)
    start = dt.datetime(2026, 1, 1, 23, 0, tzinfo=dt.timezone.utc)
    paths = {}
    for ext in ("edf", "wav", "npz", "csv"):
        p = d / f"night.{ext}"
        write_simulated(night, p, start)
        paths[ext] = p
    return paths


@pytest.fixture
def app(tmp_path):
    from web import create_app
    return create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
