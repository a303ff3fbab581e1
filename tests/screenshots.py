"""Regenerate ``screenshots/*.svg`` from the app running on the simulator (fixed seed).

Run ``python -m tests.screenshots`` from the repository root. Each shot starts a fresh
simulator with seed 7 (sessions always open, so every asset class trades), runs the real app
and engine headless at the given size, waits for data, and saves an SVG.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
from decimal import Decimal
from pathlib import Path

from rich.color import ColorSystem
from rich.console import Console
from rich.segment import Segment, Segments
from rich.style import Style
from textual._compositor import LayoutUpdate

from tui.alerts.model import AlertDelivery, AlertRule
from tui.config import Config, default_watchlists
from tui.engine.engine import EngineSettings
from tui.portfolio.model import Lot, Portfolio, PortfolioFile
from tui.session.demo import demo_keys, demo_runtime_config, demo_sim_settings
from tui.session.session import Session, SessionOptions
from tui.sim.server import run_simulator
from tui.ui.app import MarketpaneApp, ViewOptions

PLAN_TRAP = [s.code for s in default_watchlists()[0].symbols] + [
    "NASDAQ:AMZN",
    "NASDAQ:GOOGL",
    "NASDAQ:META",
]
"""Twelve symbols on the pro plan: ten live rows and two marked "not subscribed"."""
SHOTS: tuple[tuple[str, tuple[int, int], str, tuple[str, ...]], ...] = (
    ("wide-160x48", (160, 48), "marketpane-dark", ()),
    ("plan-full-120x30", (120, 30), "marketpane-dark", ()),
    ("pane-40x12", (40, 12), "marketpane-dark", ()),
    ("ssh-80x24", (80, 24), "marketpane-dark", ()),
    ("ssh-80x24-256colours", (80, 24), "marketpane-dark", ()),
    ("pane-48x20", (48, 20), "marketpane-dark", ()),
    ("theme-light-80x24", (80, 24), "marketpane-light", ()),
    ("theme-colorblind-80x24", (80, 24), "marketpane-colorblind", ()),
    ("theme-mono-80x24", (80, 24), "marketpane-mono", ()),
    ("positions-120x30", (120, 30), "marketpane-dark", ("P",)),
    ("detail-100x40", (100, 40), "marketpane-dark", ("v",)),
    ("alerts-100x24", (100, 24), "marketpane-dark", ("L",)),
)
"""(file stem, terminal size, theme, keys pressed before the shot) of every screenshot."""


def _lot(symbol: str, quantity: str, price: str, fees: str = "0") -> Lot:
    return Lot(
        symbol=symbol,
        quantity=Decimal(quantity),
        price=Decimal(price),
        date=dt.date(2026, 3, 2),
        fees=Decimal(fees),
    )


DEMO_PORTFOLIO = PortfolioFile(
    base_currency="USD",
    portfolios=[
        Portfolio(
            name="main",
            lots=[
                _lot("NASDAQ:AAPL", "50", "201.40", "1.00"),
                _lot("NASDAQ:NVDA", "120", "118.25"),
                _lot("NASDAQ:TSLA", "-20", "265.00", "2.50"),
            ],
        ),
        Portfolio(name="crypto", lots=[_lot("BINANCE:BTCUSDT", "0.25", "88150.00")]),
    ],
)
"""The positions the positions, detail and alert shots show."""
DEMO_ALERTS = [
    AlertRule(id="1", when="NASDAQ:AAPL crosses 250 band 0.5", mode="every", note="take profit"),
    AlertRule(id="2", when="@default change <= -3%"),
    AlertRule(id="3", when="BINANCE:BTCUSDT move 2% in 5m", mode="every", cooldown_seconds=600),
    AlertRule(id="4", when="NASDAQ:AAPL news sentiment <= -0.6 confidence 0.7"),
    AlertRule(id="5", when="feed any down 30s"),
]


async def take(
    out: Path, stem: str, size: tuple[int, int], theme: str, keys: tuple[str, ...], seconds: float
) -> Path:
    """One screenshot of the live app on a fresh simulator."""
    config = Config()  # the smallest plan, as a new user has
    held = stem.startswith(("positions", "detail", "alerts"))
    if held:
        config.alerts = list(DEMO_ALERTS)
        config.alert_delivery = AlertDelivery(tmux=False, bell=False)
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
                portfolio=DEMO_PORTFOLIO if held else None,
            )
        )
        app = MarketpaneApp(session, ViewOptions(display=config.display, theme=theme))
        async with app.run_test(size=size) as pilot:
            await pilot.pause(seconds)
            for key in keys:
                await pilot.press(key)
                await pilot.pause(1.0)
            if stem.endswith("-256colours"):  # what a terminal without COLORTERM shows
                path = out / f"{stem}.svg"
                path.write_text(svg_in_256_colours(app), encoding="utf-8")
            else:
                path = Path(app.save_screenshot(filename=f"{stem}.svg", path=str(out)))
            await pilot.press("q")
    return path


def svg_in_256_colours(app: MarketpaneApp) -> str:
    """The screen as a 256-colour terminal draws it (every colour rounded as Rich rounds it
    for such a terminal), as SVG."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True
    )
    update = app.screen._compositor.render_update(full=True)
    assert isinstance(update, LayoutUpdate)
    for line in update.strips:
        segments: list[Segment] = []
        for strip in line:
            for segment in strip:
                style = segment.style
                if style is not None:
                    style = (
                        Style(
                            color=style.color.downgrade(ColorSystem.EIGHT_BIT)
                            if style.color
                            else None,
                            bgcolor=(
                                style.bgcolor.downgrade(ColorSystem.EIGHT_BIT)
                                if style.bgcolor
                                else None
                            ),
                        )
                        + style.without_color
                    )
                segments.append(Segment(segment.text, style))
        segments.append(Segment.line())
        console.print(Segments(segments), end="")
    return console.export_svg(title="marketpane (256 colours)")


def main() -> None:
    """Parse flags and write every screenshot."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="screenshots")
    parser.add_argument("--seconds", type=float, default=4.0, help="data to wait for")
    parser.add_argument("--only", nargs="*", help="shots whose names start so")
    args = parser.parse_args()
    os.environ["COLORTERM"] = "truecolor"  # the shots are truecolor, whatever runs them
    os.environ.pop("NO_COLOR", None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stem, size, theme, keys in SHOTS:
        if args.only and not stem.startswith(tuple(args.only)):
            continue
        path = asyncio.run(take(out, stem, size, theme, keys, args.seconds))
        print(path)


if __name__ == "__main__":
    main()
