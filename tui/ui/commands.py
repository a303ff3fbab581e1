"""Command palette entries for every dashboard action."""

from __future__ import annotations

from functools import partial
from typing import Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.session.values import ViewState


class PaletteSource(Protocol):
    """What the palette reads from the app: its key rows, its state and its themes."""

    state: ViewState
    marketpane_themes: list[str]

    def action_rows(self) -> list[tuple[str, str, str]]: ...


class MarketpaneCommands(Provider):
    """Every binding with a description, plus one entry per watchlist and theme."""

    def _commands(self) -> list[tuple[str, str]]:
        app: PaletteSource = self.app  # type: ignore[assignment]
        entries = [(d, action) for _, action, d in app.action_rows() if action]  # actions only
        for index, name in enumerate(app.state.watchlists):
            entries.append((f"Watchlist: {name}", f"switch_watchlist({index + 1})"))
        for name in app.marketpane_themes:
            entries.append((f"Theme: {name}", f"set_theme('{name}')"))
        return entries

    async def discover(self) -> Hits:
        for text, action in self._commands():
            yield DiscoveryHit(text, partial(self.app.run_action, action))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, action in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.app.run_action, action))
