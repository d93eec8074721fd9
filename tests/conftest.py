"""Shared fixtures: where the outside reference figures live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    assert REFERENCE.is_dir(), f"the reference figures are expected beside the repository at {REFERENCE}"
    return REFERENCE


@pytest.fixture(scope="session")
def expected(reference_dir) -> dict:
    return json.loads((reference_dir / "expected.json").read_text())


def pytest_configure(config):
    """The workspace's Django settings, once for the session: pytest-django makes its test database from them
    (SQLite in memory). The PostgreSQL path is tested against a real server in a subprocess
    (tests/workspace/test_postgres.py)."""
    import tempfile

    from psyscreen.workspace import configure

    configure(db=Path(tempfile.gettempdir()) / "psyscreen-test-workspace.db", secret_file=None,
              allowed_hosts=("testserver", "127.0.0.1", "localhost"))
