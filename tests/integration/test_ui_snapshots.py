"""SVG snapshots of the dashboard at 40x15, 80x24 and 160x48, everything pinned."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.uihelp import pinned_app, sample_portfolio


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """News times are local: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.mark.parametrize("size", [(40, 15), (80, 24), (160, 48)])
def test_dashboard_snapshot(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(pinned_app(), terminal_size=size)


@pytest.mark.parametrize("theme", ["marketpane-light", "marketpane-colorblind", "marketpane-mono"])
def test_theme_snapshot(snap_compare, theme: str) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(pinned_app(theme=theme), terminal_size=(80, 24))


def test_help_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(pinned_app(), press=["question_mark"], terminal_size=(80, 24))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_positions_snapshot(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    """The positions view (P) with its columns and a totals row per portfolio."""
    app = pinned_app(portfolio=sample_portfolio())
    assert snap_compare(app, press=["P"], terminal_size=size)


def test_symbol_detail_snapshot(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """The detail view of a held symbol (v)."""
    app = pinned_app(portfolio=sample_portfolio())
    assert snap_compare(app, press=["v"], terminal_size=(100, 40))
