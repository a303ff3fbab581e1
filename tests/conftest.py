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


@pytest.hookimpl(trylast=True)  # after ``-m`` deselects: the slices are cut from what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On several workers, start the tests marked ``long`` first, spread so each worker's
    share of them takes about as long: work stealing hands each worker a contiguous slice
    of the collection and moves only tests not yet started, so long tests left together at
    one slice's end would run one after another."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 0))
    long = [item for item in items if item.get_closest_marker("long") is not None]
    if workers < 2 or not long:
        return
    bins: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0.0] * workers

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("long")
        assert marker is not None
        return float(marker.args[0]) if marker.args else 10.0

    for item in sorted(long, key=seconds, reverse=True):  # longest first, to the least loaded
        k = loads.index(min(loads))
        bins[k].append(item)
        loads[k] += seconds(item)
    chosen = set(long)
    rest = iter([item for item in items if item not in chosen])
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for k in range(workers):  # the slice sizes the scheduler cuts (an equal share each)
        size = remaining // (workers - k)
        remaining -= size
        ordered += bins[k]
        ordered += [next(rest) for _ in range(max(0, size - len(bins[k])))]
    ordered += list(rest)
    items[:] = ordered
