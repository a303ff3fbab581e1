"""Delivery: the webhook against a loopback HTTP server (including a timeout and
HTTP 500), the command hook with real processes, and one failing channel never delaying
another."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.enginehelp import wait_for
from tui.alerts import deliver
from tui.alerts.deliver import Delivery, tmux_text
from tui.alerts.model import AlertDelivery, Firing

NASTY = "X:$(touch pwned);echo`id`|cat&>out #{pane_id}"
"""A 'symbol' full of shell (and tmux format) metacharacters: it must only ever be text."""


def firing(symbol: str = "NASDAQ:AAPL", **changes: object) -> Firing:
    base: dict[str, object] = {
        "id": "7",
        "symbol": symbol,
        "rule": f"{symbol} > 250",
        "text": f"Alert 7: {symbol} at 250.5, at or above 250",
        "at": 1_795_000_000.0,
        "value": 250.5,
        "level": 250.0,
        "note": "take profit",
    }
    base.update(changes)
    return Firing(**base)  # type: ignore[arg-type]


class HttpServer:
    """A loopback HTTP server answering each POST from a script of (status, delay)."""

    def __init__(self, script: list[tuple[int, float]]) -> None:
        self.script = script
        self.bodies: list[dict[str, object]] = []
        self.headers: list[str] = []
        self.url = ""

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length")
        )
        body = await reader.readexactly(length)
        self.bodies.append(json.loads(body))
        self.headers.append(lines[0])
        status, delay = self.script[min(len(self.bodies) - 1, len(self.script) - 1)]
        await asyncio.sleep(delay)
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        writer.close()


@asynccontextmanager
async def http_server(script: list[tuple[int, float]]) -> AsyncIterator[HttpServer]:
    server = HttpServer(script)
    listener = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield server
    finally:
        listener.close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deliver, "BACKOFF_SECONDS", 0.05)


async def test_webhook_posts_the_alert_as_json() -> None:
    reports: list[str] = []
    async with http_server([(200, 0.0)]) as server:
        delivery = Delivery(
            AlertDelivery(webhook=server.url, tmux=False), lambda _l, t: reports.append(t)
        )
        delivery.send(firing())
        await delivery.drain(5)
        await delivery.close()
    assert server.headers == ["POST /hook HTTP/1.1"]
    assert server.bodies == [
        {
            "id": "7",
            "symbol": "NASDAQ:AAPL",
            "rule": "NASDAQ:AAPL > 250",
            "text": "Alert 7: NASDAQ:AAPL at 250.5, at or above 250",
            "time": "2026-11-18T11:06:40+00:00",
            "at": 1_795_000_000.0,
            "value": 250.5,
            "level": 250.0,
            "note": "take profit",
            "test": False,
        }
    ]
    assert reports == [] and delivery.delivered == {"webhook": 1}


async def test_webhook_500_is_reported_and_retried_until_it_succeeds() -> None:
    reports: list[str] = []
    async with http_server([(500, 0.0), (500, 0.0), (204, 0.0)]) as server:
        delivery = Delivery(
            AlertDelivery(webhook=server.url, retries=3, tmux=False),
            lambda _l, t: reports.append(t),
        )
        delivery.send(firing())
        await delivery.drain(5)
        await delivery.close()
    assert len(server.bodies) == 3
    assert delivery.delivered == {"webhook": 1}
    assert len(reports) == 2 and all("HTTP 500" in r and "trying again" in r for r in reports)


async def test_webhook_timeout_gives_up_after_its_retries_and_says_so() -> None:
    reports: list[str] = []
    async with http_server([(200, 2.0)]) as server:
        delivery = Delivery(
            AlertDelivery(webhook=server.url, retries=1, webhook_timeout_seconds=0.3, tmux=False),
            lambda _l, t: reports.append(t),
        )
        delivery.send(firing())
        await delivery.drain(10)
        await delivery.close()
    assert delivery.delivered == {}
    assert "did not answer within 0.3 s" in reports[-1] and "after 2 tries" in reports[-1]


async def test_a_refusing_webhook_is_not_retried() -> None:
    reports: list[str] = []
    async with http_server([(404, 0.0)]) as server:
        delivery = Delivery(
            AlertDelivery(webhook=server.url, retries=3, tmux=False),
            lambda _l, t: reports.append(t),
        )
        delivery.send(firing())
        await delivery.drain(5)
        await delivery.close()
    assert len(server.bodies) == 1 and "refused it: HTTP 404" in reports[0]


HOOK = """
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({"argv": sys.argv[2:], "env": {k: v for k, v in os.environ.items()
               if k.startswith("MARKETPANE_ALERT_")}}, out)
"""


async def test_command_hook_gets_exact_arguments_and_environment_and_no_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A symbol full of shell metacharacters reaches the hook unchanged, in its argument and
    its environment, and runs nothing (no file ``pwned``, no ``out``)."""
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    record = tmp_path / "record.json"
    command = [sys.executable, str(script), str(record), "--symbol={symbol}", "{text}", "fixed"]
    reports: list[str] = []
    delivery = Delivery(
        AlertDelivery(command=command, tmux=False),
        lambda _l, t: reports.append(t),
        environ={"PATH": "/usr/bin:/bin"},
    )
    nasty = firing(NASTY, text=f"Alert 7: {NASTY} at 250.5")
    delivery.send(nasty)
    await delivery.drain(10)
    await delivery.close()
    assert reports == []
    seen = json.loads(record.read_text())
    assert seen["argv"] == [f"--symbol={NASTY}", f"Alert 7: {NASTY} at 250.5", "fixed"]
    assert seen["env"] == {
        "MARKETPANE_ALERT_ID": "7",
        "MARKETPANE_ALERT_SYMBOL": NASTY,
        "MARKETPANE_ALERT_RULE": f"{NASTY} > 250",
        "MARKETPANE_ALERT_TEXT": f"Alert 7: {NASTY} at 250.5",
        "MARKETPANE_ALERT_TIME": "2026-11-18T11:06:40+00:00",
        "MARKETPANE_ALERT_VALUE": "250.5",
        "MARKETPANE_ALERT_LEVEL": "250",
        "MARKETPANE_ALERT_NOTE": "take profit",
        "MARKETPANE_ALERT_TEST": "0",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "hook.py", "record.json"]


async def test_a_failing_hook_is_retried_and_never_delays_the_webhook(tmp_path: Path) -> None:
    """The hook exits 3 and then hangs past its timeout; the webhook is delivered at once
    anyway, and the hook's failures are reported in words."""
    reports: list[str] = []
    async with http_server([(200, 0.0)]) as server:
        delivery = Delivery(
            AlertDelivery(
                command=[
                    sys.executable,
                    "-c",
                    "import sys; print('boom', file=sys.stderr); sys.exit(3)",
                ],
                webhook=server.url,
                retries=1,
                tmux=False,
            ),
            lambda _l, t: reports.append(t),
        )
        started = time.monotonic()
        delivery.send(firing())
        await wait_for(lambda: server.bodies, timeout=5)
        webhook_after = time.monotonic() - started
        await delivery.drain(10)
        await delivery.close()
    assert webhook_after < 1.0
    assert any("exited with status 3: boom" in r and "trying again" in r for r in reports)
    assert "after 2 tries" in reports[-1]
    assert delivery.delivered == {"webhook": 1}


async def test_hook_timeout_kills_it() -> None:
    reports: list[str] = []
    delivery = Delivery(
        AlertDelivery(
            command=[sys.executable, "-c", "import time; time.sleep(30)"],
            command_timeout_seconds=0.5,
            retries=0,
            tmux=False,
        ),
        lambda _l, t: reports.append(t),
    )
    started = time.monotonic()
    delivery.send(firing())
    await delivery.drain(10)
    await delivery.close()
    assert time.monotonic() - started < 5
    assert "did not finish within 0.5 s" in reports[0]


def test_tmux_text_expands_no_format_and_no_control() -> None:
    """``#(cmd)`` in a message would run a command in tmux: every ``#`` is doubled, and a
    control sequence is made visible."""
    assert tmux_text("a #(touch x) #{pane_id} \x1b[31m") == "a ##(touch x) ##{pane_id} ␛[31m"
