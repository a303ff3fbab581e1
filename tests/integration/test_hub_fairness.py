"""Fair capacity across a hub's panes: three panes on a two-unit plan switching watchlists and
charts in a seeded random order. No pane ever loses every row to another's action, every row
left out says why (naming the other panes' use), and the subscriptions depend only on where the
panes are, not how they got there."""

from __future__ import annotations

import functools
import random
from pathlib import Path

from tests.enginehelp import wait_for
from tests.hubhelp import PaneView, attach, running_hub
from tests.simhelp import fast_settings
from tui.config import Watchlist, WatchSymbol, default_watchlists
from tui.hub.server import Hub
from tui.session.values import FocusSymbol, SwitchWatchlist
from tui.sim.server import run_simulator

STEPS = 24


def _overfull() -> list[Watchlist]:
    """The default watchlists with one more row on the first: ten quotes and a chart fill the
    pro plan, so the panes' union overflows and left-out rows are exercised."""
    watchlists = default_watchlists()
    watchlists[0].symbols.append(WatchSymbol(code="NYSE:JPM"))
    return watchlists


def _kept(hub: Hub) -> frozenset[tuple[str, bool]]:
    return frozenset((s.code, s.type == "quote") for s in hub.engine.capacity.kept)


def _shows(pane: PaneView, *, watchlist: str | None = None, focused: str | None = None) -> bool:
    state = pane.state
    if state is None:
        return False
    return (watchlist is None or state.watchlist_name == watchlist) and (
        focused is None or state.focused_code == focused
    )


def _fair(hub: Hub, panes: list[PaneView]) -> bool:
    """Every pane has a streaming row, and each of its rows not streaming is marked."""
    quotes = {code for code, quote in _kept(hub) if quote}
    for pane in panes:
        if pane.state is None:
            return False
        codes = pane.state.codes
        streaming = [c for c in codes if c in quotes and c not in pane.marks]
        if not streaming:
            return False
        if any(c not in quotes and c not in pane.marks for c in codes):
            return False
    return True


async def test_three_panes_in_random_order_share_a_full_plan_fairly(
    isolated_paths: Path, tmp_path: Path
) -> None:
    rng = random.Random(20261206)
    marked = 0
    seen: dict[tuple[tuple[str, str | None], ...], frozenset[tuple[str, bool]]] = {}
    async with (
        run_simulator(fast_settings()) as sim,
        running_hub(sim, tmp_path, "pro", watchlists=_overfull()) as hub,
    ):
        panes = [await attach(hub) for _ in range(3)]
        await wait_for(lambda: all(p.state is not None for p in panes), 10)
        for step in range(STEPS):
            pane = rng.choice(panes)
            assert pane.state is not None
            if rng.random() < 0.5:
                number = rng.choice([1, 2])
                pane.session.send(SwitchWatchlist(number))
                name = pane.state.watchlists[number - 1]
                await wait_for(functools.partial(_shows, pane, watchlist=name))
            else:
                code = rng.choice(pane.state.codes)
                pane.session.send(FocusSymbol(code))
                await wait_for(functools.partial(_shows, pane, focused=code))
            await wait_for(lambda: _fair(hub, panes), 5)
            where = tuple(
                (p.state.watchlist_name, p.state.focused_code) for p in panes if p.state is not None
            )
            kept = _kept(hub)
            assert seen.setdefault(where, kept) == kept, f"step {step}: {where} kept differs"
            assert len(kept) > 0 and hub.engine.plan_use().used <= 2
            for p in panes:
                for why in p.marks.values():
                    assert why.startswith("not subscribed: plan full, in use by"), why
                    marked += 1
        assert len(seen) < STEPS  # states were revisited, so path independence was checked
        assert marked > 0  # the plan was full at times: the rule was exercised
        for pane in panes:
            pane.session.stop()
