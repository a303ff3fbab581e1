"""Regenerate ``screenshots/*.svg`` from the app running on the simulator (fixed seed).

Run ``python -m tui.ui.screenshots`` from the repository root. Each shot starts a fresh
simulator with seed 7 (sessions always open, so every asset class trades), runs the real app
and engine headless at the given size, waits for data, and saves an SVG.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from tui.config import Config, default_watchlists
from tui.engine.engine import EngineSettings
from tui.session.demo import demo_keys, demo_runtime_config, demo_sim_settings
from tui.session.session import Session, SessionOptions
from tui.sim.server import run_simulator
from tui.ui.app import MarketpaneApp, ViewOptions

PLAN_TRAP = [s.code for s in default_watchlists()[0].symbols] + ["NASDAQ:AMZN", "NASDAQ:GOOGL"]
"""Twelve symbols on the pro plan: ten live rows and two marked "not subscribed"."""
SHOTS: tuple[tuple[str, tuple[int, int], str], ...] = (
    ("wide-160x48", (160, 48), "marketpane-dark"),
    ("plan-full-120x30", (120, 30), "marketpane-dark"),
    ("pane-40x12", (40, 12), "marketpane-dark"),
    ("ssh-80x24", (80, 24), "marketpane-dark"),
    ("pane-48x20", (48, 20), "marketpane-dark"),
    ("theme-light-80x24", (80, 24), "marketpane-light"),
    ("theme-colorblind-80x24", (80, 24), "marketpane-colorblind"),
    ("theme-mono-80x24", (80, 24), "marketpane-mono"),
)
"""(file stem, terminal size, theme) of every screenshot."""


async def take(out: Path, stem: str, size: tuple[int, int], theme: str, seconds: float) -> Path:
    """One screenshot of the live app on a fresh simulator."""
    config = Config()  # the smallest plan, as a new user has
    settings = demo_sim_settings(config, seed=7)
    settings.sessions, settings.speed, settings.news_interval_seconds = "always_open", 2.0, 2.0
    async with run_simulator(settings) as sim:
        session = Session(
            SessionOptions(
                config=config,
                keys=demo_keys(),
                runtime_config=demo_runtime_config(config, sim.urls),
                demo=True,
                engine_settings=EngineSettings(),
                persist=False,
                symbols=PLAN_TRAP if stem.startswith("plan-full") else None,
            )
        )
        app = MarketpaneApp(session, ViewOptions(display=config.display, theme=theme))
        async with app.run_test(size=size) as pilot:
            await pilot.pause(seconds)
            path = Path(app.save_screenshot(filename=f"{stem}.svg", path=str(out)))
            await pilot.press("q")
    return path


def main() -> None:
    """Parse flags and write every screenshot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="screenshots")
    parser.add_argument("--seconds", type=float, default=4.0, help="data to wait for")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stem, size, theme in SHOTS:
        path = asyncio.run(take(out, stem, size, theme, args.seconds))
        print(path)


if __name__ == "__main__":
    main()
