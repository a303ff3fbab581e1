"""``marketpane sim``: run the simulator standalone and print its URLs and demo keys."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from tui.sim.server import run_simulator
from tui.sim.settings import DEMO_SMALL_KEY, EXPIRED_STOCKNEWS_TOKEN, Faults, SimSettings


def sim_command(argv: Sequence[str]) -> int:
    """Parse flags and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="marketpane sim", description="Serve simulated market data on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--always-open", action="store_true", help="ignore trading sessions")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="heartbeat seconds")
    parser.add_argument("--firehose", type=float, default=0.0, help="quote messages/s per client")
    parser.add_argument("--synthetic", type=int, default=0, help="extra SIM:Tnnnn symbols")
    parser.add_argument("--faults", default="", help="e.g. mute_heartbeats,close_code=1001")
    parser.add_argument("--for-seconds", type=float, default=0.0, help="stop after (0: never)")
    args = parser.parse_args(list(argv))
    faults = Faults()
    try:
        faults.set_from_text(args.faults)
    except ValueError as exc:
        parser.exit(2, f"marketpane sim: error: {exc}\n")
    settings = SimSettings(
        seed=args.seed,
        speed=args.speed,
        host=args.host,
        port=args.port,
        heartbeat_seconds=args.heartbeat,
        firehose_rate=args.firehose,
        synthetic_symbols=args.synthetic,
        sessions="always_open" if args.always_open else "real",
    )
    try:
        asyncio.run(_serve(settings, faults, args.for_seconds))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        sys.stderr.write(f"marketpane sim: error: cannot listen: {exc.strerror}\n")
        return 2
    return 0


async def _serve(settings: SimSettings, faults: Faults, for_seconds: float) -> None:
    async with run_simulator(settings, faults) as sim:
        urls = sim.urls
        assert urls is not None
        print(f"live:      {urls.live}")
        print(f"newsfeed:  {urls.newsfeed}")
        print(f"stocknews: {urls.stocknews}?token={urls.stocknews_token}")
        print(f"rest:      {urls.rest}")
        print(f"demo keys: {urls.api_key} (mega plan), {DEMO_SMALL_KEY} (pro plan)")
        print(
            f"rapidapi:  {urls.rapidapi_key}   expired stocknews token: {EXPIRED_STOCKNEWS_TOKEN}",
            flush=True,
        )
        if for_seconds:
            await asyncio.sleep(for_seconds)
        else:
            await asyncio.Event().wait()
