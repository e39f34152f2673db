"""Shared fixtures. Every test runs with no MJNB_* variable set and its own MJNB_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CANARY = "sk-CANARY-7f3a9c-do-not-leak"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Clear every MJNB_* variable and point MJNB_HOME at a fresh temp dir."""
    for name in list(os.environ):
        if name.startswith("MJNB_"):
            monkeypatch.delenv(name)
    home = tmp_path / "mjnb-home"
    monkeypatch.setenv("MJNB_HOME", str(home))
    yield home
