"""Shared fixtures: the hand-computed reference graph (no chain)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prov_synth import Synth, build_reference


@pytest.fixture(scope="session")
def reference() -> Synth:
    return build_reference()


@pytest.fixture()
def ref_index(reference: Synth):  # type: ignore[no-untyped-def]
    index = reference.ingest()
    yield index
    index.close()
