"""A pane dies with its terminal: the real console script streaming 5,000 quotes a second in
tmux, its session killed (the pty closed under it), twenty times. Each time the process is gone
within 5 s and closed its ``/live`` socket with 1000."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.test_tmux import SCRIPT, pytestmark  # noqa: F401
from tests.simhelp import fast_settings
from tui.sim.server import SimulatorThread
from tui.sim.settings import DEMO_KEY, DEMO_STOCKNEWS_TOKEN

ROUNDS = 8
"""Rounds in the suite; the soak run does many more (the hang it guards against was
intermittent)."""
SOAK_ROUNDS = 40
CODES = ",".join(f"BINANCE:{c}USDT" for c in ("BTC", "ETH", "SOL", "XRP", "DOGE"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # a zombie is gone for us
        return stat.read().split(") ", 1)[1][0] != "Z"


@pytest.mark.long(16)
def test_a_pane_streaming_5000_quotes_a_second_dies_with_its_terminal(
    isolated_paths: Path,
) -> None:
    _die_with_the_terminal(isolated_paths, ROUNDS)


@pytest.mark.soak
def test_many_panes_in_turn_die_with_their_terminals(isolated_paths: Path) -> None:
    _die_with_the_terminal(isolated_paths, SOAK_ROUNDS)


def _die_with_the_terminal(isolated_paths: Path, rounds: int) -> None:
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    thread = SimulatorThread(fast_settings(firehose_rate=5000.0, market_paused=True))
    urls = thread.start()
    server = f"mp-gone-{uuid.uuid4().hex[:6]}"
    env = {
        "MARKETPANE_CONFIG": isolated_paths / "config.toml",
        "MARKETPANE_STATE_DIR": isolated_paths / "state",
        "MARKETPANE_SECRETS": isolated_paths / "secrets.toml",
        "INSIGHTSENTRY_API_KEY": DEMO_KEY,
        "STOCKNEWS_TOKEN": DEMO_STOCKNEWS_TOKEN,
    }
    variables = " ".join(f"{k}={v}" for k, v in env.items())
    command = (
        f"exec env -u COLUMNS -u LINES {variables} {SCRIPT} --no-hub --symbols {CODES} "
        f"--live-url {urls.live} --newsfeed-url {urls.newsfeed} "
        f"--stocknews-url {urls.stocknews} --rest-url {urls.rest}"
    )
    took: list[float] = []
    try:
        for round_number in range(rounds):
            session = f"r{round_number}"
            subprocess.run(
                ["tmux", "-L", server, "new-session", "-d", "-s", session, "-x", "100", "-y",
                 "30", command],
                check=True,
            )  # fmt: skip
            pid = int(
                subprocess.run(
                    ["tmux", "-L", server, "display", "-p", "-t", session, "#{pane_pid}"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            lives = thread.sim.records_for("live")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (
                len(lives) > round_number and lives[round_number].sent > 2000
            ):
                time.sleep(0.05)
                lives = thread.sim.records_for("live")
            assert len(lives) == round_number + 1, f"round {round_number}: never streamed"
            subprocess.run(["tmux", "-L", server, "kill-session", "-t", session], check=True)
            killed = time.monotonic()
            while _alive(pid) and time.monotonic() - killed < 10:
                time.sleep(0.05)
            took.append(time.monotonic() - killed)
            assert not _alive(pid), f"round {round_number}: pid {pid} outlived its terminal"
            assert took[-1] < 5.0, f"round {round_number}: gone only after {took[-1]:.1f} s"
            record = lives[round_number]
            deadline = time.monotonic() + 5
            while record.closed_at is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert record.close_code_received == 1000, (round_number, record.close_code_received)
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], check=False, capture_output=True)
        thread.stop()
    print(f"gone after {min(took):.2f}-{max(took):.2f} s over {len(took)} rounds")


def test_a_terminal_closed_during_start_up_still_closes_with_1000(
    isolated_paths: Path, tmp_path: Path
) -> None:
    """The session connects before the view is loaded: a SIGHUP in that window (the terminal
    closed while the pane starts) closes ``/live`` with 1000 and exits 129, rather than the
    default action killing the process with its socket open. The window is widened by loading
    every module from source (an empty bytecode cache), so the signal lands inside it."""
    if not SCRIPT.exists():
        pytest.skip("console script not installed (pip install -e .)")
    thread = SimulatorThread(fast_settings(firehose_rate=500.0, market_paused=True))
    urls = thread.start()
    env = {
        **os.environ,
        "MARKETPANE_CONFIG": str(isolated_paths / "config.toml"),
        "MARKETPANE_STATE_DIR": str(isolated_paths / "state"),
        "MARKETPANE_SECRETS": str(isolated_paths / "secrets.toml"),
        "INSIGHTSENTRY_API_KEY": DEMO_KEY,
        "STOCKNEWS_TOKEN": DEMO_STOCKNEWS_TOKEN,
        "PYTHONPYCACHEPREFIX": str(tmp_path / "no-bytecode"),
        "TERM": "xterm-256color",
    }
    flags = [
        "--no-hub", "--symbols", CODES, "--live-url", urls.live, "--newsfeed-url",
        urls.newsfeed, "--stocknews-url", urls.stocknews, "--rest-url", urls.rest,
    ]  # fmt: skip
    main, other = os.openpty()  # a terminal of its own, closed with the test
    try:
        process = subprocess.Popen(
            [str(SCRIPT), *flags], stdin=other, stdout=other, stderr=other, env=env
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            r.sent > 0 for r in thread.sim.records_for("live")
        ):
            time.sleep(0.01)
        assert thread.sim.records_for("live"), "the session never connected"
        process.send_signal(signal.SIGHUP)
        code = process.wait(10)
        record = thread.sim.records_for("live")[0]
        deadline = time.monotonic() + 5
        while record.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert code == 128 + signal.SIGHUP, code
        assert record.close_code_received == 1000, record.close_code_received
        assert len(thread.sim.records_for("live")) == 1
    finally:
        os.close(main)
        os.close(other)
        thread.stop()
