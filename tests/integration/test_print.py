"""Scripting: ``marketpane print`` in all four formats against the simulator's REST
(no WebSocket at all) and against a running hub, ``--watch`` for ten seconds, exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.hubhelp import short_runtime_dir
from tests.simhelp import fast_settings
from tui.config import Config, save_config
from tui.hub.client import HubError, ensure_hub, stop_hub
from tui.hub.place import account_id, place_for
from tui.portfolio.model import Portfolio, PortfolioFile, save_portfolio
from tui.secrets import Keys, Secret
from tui.session.demo import demo_runtime_config
from tui.sim.server import Simulator, run_simulator
from tui.sim.settings import DEMO_KEY

LIVE = ["NASDAQ:AAPL", "BINANCE:BTCUSDT"]


def run(*args: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", "print", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=timeout,
        check=False,
    )


@contextlib.asynccontextmanager
async def sim_account(
    home: Path, monkeypatch: pytest.MonkeyPatch, **settings: object
) -> AsyncIterator[tuple[Simulator, Config]]:
    """The simulator, and a config file pointing at it with the demo key as the user's."""
    monkeypatch.setenv("INSIGHTSENTRY_API_KEY", DEMO_KEY)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(short_runtime_dir()))
    async with run_simulator(fast_settings(**settings)) as sim:
        assert sim.urls is not None
        config = demo_runtime_config(Config(), sim.urls)
        save_config(config, home / "config.toml")
        yield sim, config


def check_formats(outputs: dict[str, str], codes: list[str]) -> None:
    records = json.loads(outputs["json"])
    assert [r["symbol"] for r in records] == codes
    assert all(isinstance(r["last"], float) and r["state"] == "live" for r in records)
    lines = [json.loads(line) for line in outputs["ndjson"].splitlines()]
    assert [r["symbol"] for r in lines] == codes
    table = list(csv.DictReader(io.StringIO(outputs["csv"])))
    assert [r["symbol"] for r in table] == codes and float(table[0]["last"]) > 0
    text = outputs["table"].splitlines()
    assert text[0].split()[:3] == ["SYMBOL", "LAST", "CHG%"]
    assert all(any(line.startswith(code) for line in text) for code in codes)


async def test_print_from_rest_in_every_format_without_a_websocket(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sim_account(isolated_paths, monkeypatch) as (sim, _):
        outputs = {}
        for fmt in ("table", "json", "csv", "ndjson"):
            done = await asyncio.to_thread(
                run, "--symbols", ",".join(LIVE), "--format", fmt, "--no-hub"
            )
            assert done.returncode == 0, done.stderr
            assert "from REST (no hub)" in done.stderr
            outputs[fmt] = done.stdout
        check_formats(outputs, LIVE)
        assert sim.records_for("live") == []  # no WebSocket at all
        delayed = await asyncio.to_thread(run, "--symbols", "NASDAQ:AAPL,AMEX:SPY", "--no-hub")
        assert delayed.returncode == 3 and "15m" in delayed.stdout, delayed
        missing = await asyncio.to_thread(run, "--symbols", "NASDAQ:AAPL,NASDAQ:NOPE", "--no-hub")
        assert missing.returncode == 4 and "unknown symbol" in missing.stdout, missing
        bad = await asyncio.to_thread(run, "--symbols", "aapl", "--no-hub")
        assert bad.returncode == 2 and "EXCHANGE:SYMBOL" in bad.stderr


async def test_print_a_portfolio_with_exact_pnl(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paused market moved by one scripted trade: the figures are exact decimals."""
    from decimal import Decimal as D

    from tui.portfolio.model import Lot

    async with sim_account(isolated_paths, monkeypatch, market_paused=True) as (sim, _):
        sim.trade("NASDAQ:AAPL", 120.0)
        lots = [
            Lot(
                symbol="NASDAQ:AAPL",
                quantity=D(10),
                price=D(100),
                date=dt.date(2026, 1, 5),
                fees=D(1),
            )
        ]
        save_portfolio(
            PortfolioFile(portfolios=[Portfolio(name="main", lots=lots)]),
            isolated_paths / "portfolio.toml",
        )
        done = await asyncio.to_thread(run, "--portfolio", "main", "--format", "json", "--no-hub")
        assert done.returncode == 0, done.stderr
        (record,) = json.loads(done.stdout, parse_float=D, parse_int=D)
        assert (record["quantity"], record["average_cost"]) == (D(10), D("100.10"))
        assert (record["market_value"], record["total_pnl"]) == (D("1200.00"), D("199.00"))
        assert record["total_pnl_percent"] == D("19.88")  # 199 / 1001, to two decimals
        assert '"total_pnl_percent":19.88' in done.stdout.replace(" ", "")
        table = await asyncio.to_thread(run, "--portfolio", "main", "--no-hub")
        total = table.stdout.splitlines()[-1]
        assert total.startswith("TOTAL") and "1,200.00" in total and "+199.00" in total, total
        nope = await asyncio.to_thread(run, "--portfolio", "other", "--no-hub")
        assert nope.returncode == 2 and "portfolios: main" in nope.stderr


@pytest.mark.long(12)
async def test_print_through_the_hub_and_watch_ten_seconds(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sim_account(isolated_paths, monkeypatch) as (_sim, config):
        place = place_for(
            account_id(config, Keys(insightsentry_api_key=Secret(DEMO_KEY)), demo=False)
        )
        await asyncio.to_thread(ensure_hub, place, ["--linger", "0"])
        try:
            outputs = {}
            for fmt in ("table", "json", "csv", "ndjson"):
                done = await asyncio.to_thread(run, "--symbols", ",".join(LIVE), "--format", fmt)
                assert done.returncode == 0, done.stderr
                assert "from the running hub" in done.stderr
                outputs[fmt] = done.stdout
            check_formats(outputs, LIVE)
            watched = await asyncio.to_thread(
                run, "--symbols", ",".join(LIVE), "--watch", "--seconds", "10", timeout=60
            )
            assert watched.returncode == 0, watched.stderr
            lines = [json.loads(line) for line in watched.stdout.splitlines()]
            assert {r["symbol"] for r in lines} == set(LIVE)
            prices = {r["last"] for r in lines if r["symbol"] == "BINANCE:BTCUSDT"}
            assert len(prices) >= 3, prices  # values as they change, not one snapshot
            # the hub now holds the watched symbols; the print used the hub's live store
            done = await asyncio.to_thread(run, "--symbols", "BINANCE:BTCUSDT", "--format", "json")
            assert json.loads(done.stdout)[0]["updated"] is not None
        finally:
            with contextlib.suppress(HubError):
                stop_hub(place)


async def test_watch_without_a_hub(isolated_paths: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with sim_account(isolated_paths, monkeypatch) as (sim, _):
        watched = await asyncio.to_thread(
            run, "--symbols", "BINANCE:BTCUSDT", "--watch", "--seconds", "4", "--no-hub"
        )
        assert watched.returncode == 0, watched.stderr
        assert len(watched.stdout.splitlines()) >= 2
        assert sim.records_for("live")  # an engine of its own this time


async def test_portfolio_import_checks_symbols_with_the_server(
    isolated_paths: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``marketpane portfolio import``: an unknown symbol (no quote from REST) and a bad
    row refuse the whole file, naming line and column; a good file is saved."""
    async with sim_account(isolated_paths, monkeypatch):
        bad = isolated_paths / "bad.csv"
        bad.write_text(
            "symbol,quantity,price,date\nNASDAQ:AMD,10,150,2026-02-01\n"
            "NASDAQ:NOPE,1,3,2026-02-01\nNASDAQ:AMD,x,1,2026-02-01\n"
        )
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tui", "portfolio", "import", str(bad)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 1
        assert "line 4, column 2 (quantity): 'x' is not a number" in done.stderr
        assert "line 3, column 1 (symbol): NASDAQ:NOPE is not a known symbol" in done.stderr
        assert not (isolated_paths / "portfolio.toml").exists()
        good = isolated_paths / "good.csv"
        good.write_text("symbol,quantity,price,date,fees\nNASDAQ:AMD,10,150,2026-02-01,1\n")
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tui", "portfolio", "import", str(good), "--portfolio", "t"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert 'symbol = "NASDAQ:AMD"' in (isolated_paths / "portfolio.toml").read_text()
