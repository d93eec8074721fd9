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
