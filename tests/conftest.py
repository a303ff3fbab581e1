"""Shared fixtures: an isolated home for config, secrets and state in every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.secrets import install_record_masking

install_record_masking()  # captured logs in test reports are masked too


@pytest.fixture(autouse=True)
def truecolor_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps in tests draw for a truecolor terminal whatever terminal runs the tests (a
    16-colour ``TERM`` would re-colour every snapshot); the contrast test sets its own."""
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture(autouse=True)
def isolated_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point config, secrets and state at a temp dir and clear key variables."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MARKETPANE_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("MARKETPANE_SECRETS", str(home / "secrets" / "secrets.toml"))
    monkeypatch.setenv("MARKETPANE_STATE_DIR", str(home / "state"))
    for name in ("INSIGHTSENTRY_API_KEY", "INSIGHTSENTRY_RAPIDAPI_KEY", "STOCKNEWS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield home
