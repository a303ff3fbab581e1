"""The watchlist commands: add (checked against the server), remove, undo, move, switch."""

from __future__ import annotations

import asyncio

from tui.config import (
    WatchSymbol,
    resolve_ticker,
)
from tui.engine.engine import Engine
from tui.engine.rest import RestError
from tui.protocol.rules import SubscriptionRuleError, validate_symbol_code
from tui.session.state import (
    SessionBase,
)
from tui.session.values import (
    AddSymbol,
    MoveSymbol,
    RemoveSymbol,
    SwitchWatchlist,
    UndoRemove,
)


class WatchlistCommands(SessionBase):
    """The watchlist commands: add (checked against the server), remove, undo, move, switch."""

    def _on_AddSymbol(self, command: AddSymbol) -> None:
        code = command.code.strip().upper()
        if ":" not in code:  # a bare ticker: the exchange the watchlists already use for it
            code = resolve_ticker(code, self.config.watchlists) or code
        try:
            validate_symbol_code(code)
        except SubscriptionRuleError as exc:
            self.notice("error", exc.problem)
            return
        watchlist = self.watchlist()
        if any(s.code == code for s in watchlist.symbols):
            self.notice("information", f"{code} is already on {watchlist.name}")
            return
        if self.transient is None and not any(
            w.name == watchlist.name for w in self.config.watchlists
        ):
            self.config.watchlists.append(watchlist)
        watchlist.symbols.append(WatchSymbol(code=code))
        self._edited()
        self.notice("information", f"Added {code}")
        self._check_known(code)

    def _check_known(self, code: str) -> None:
        """Ask the quotes endpoint whether ``code`` exists, so an unknown symbol is marked
        "unknown symbol" even when a full plan keeps it from ever reaching the server (never
        "the plan's fault"). Nothing happens if REST cannot tell."""
        engine = self.engine
        if engine is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._mark_if_unknown(engine, code))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _mark_if_unknown(self, engine: Engine, code: str) -> None:
        try:
            answer = await engine.rest.quotes([code])
        except RestError:
            return
        if any(quote.code == code for quote in answer.data):
            return
        engine.reject_subscription(code, what="unknown symbol", series_only=False)
        self.notice("warning", f"{code}: the server knows no such symbol (d removes the row)")

    def _on_RemoveSymbol(self, command: RemoveSymbol) -> None:
        symbols = self.watchlist().symbols
        index = next((i for i, s in enumerate(symbols) if s.code == command.code), None)
        if index is None:
            return
        entry = symbols.pop(index)
        self.removed.append((self.watchlist().name, index, entry))
        self._forget.append(entry.code)
        if self.engine is not None and not self.shared:  # a shared store serves other panes
            self.engine.store.quotes.pop(entry.code, None)
        self._edited()
        self.notice("information", f"Removed {entry.code} (u puts it back)")

    def _on_UndoRemove(self, command: UndoRemove) -> None:
        if not self.removed:
            self.notice("information", "Nothing to undo")
            return
        name, index, entry = self.removed.pop()
        watchlist = self.watchlist()
        if watchlist.name != name:
            self.notice("information", f"{entry.code} was removed from {name}; switch back first")
            self.removed.append((name, index, entry))
            return
        if self.entry(entry.code) is None:
            watchlist.symbols.insert(min(index, len(watchlist.symbols)), entry)
            self._edited()
            self.notice("information", f"Put back {entry.code}")

    def _on_MoveSymbol(self, command: MoveSymbol) -> None:
        symbols = self.watchlist().symbols
        index = next((i for i, s in enumerate(symbols) if s.code == command.code), None)
        if index is None:
            return
        target = index + command.step
        if not 0 <= target < len(symbols):
            return
        symbols[index], symbols[target] = symbols[target], symbols[index]
        self._update_desired()  # the same set in a new order sends nothing (unless the plan
        self._persist()  # is full: then the order picks which symbols fit)
        self._changed()

    def _on_SwitchWatchlist(self, command: SwitchWatchlist) -> None:
        self._adopt_watchlists_from_disk()
        lists = self.config.watchlists
        if not 1 <= command.number <= len(lists):
            self.notice(
                "information", f"There is no watchlist {command.number} (you have {len(lists)})"
            )
            return
        self.transient = None
        self.config.active_watchlist = lists[command.number - 1].name
        self._edited()
        self.notice("information", f"Watchlist: {lists[command.number - 1].name}")
