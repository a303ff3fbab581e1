"""The position commands: the held-symbols list, lots added, replaced and removed, reloads."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec

from tui.config import (
    Watchlist,
    WatchSymbol,
)
from tui.engine.status import Notice
from tui.portfolio.model import (
    Lot,
    Portfolio,
    PortfolioError,
    load_portfolio,
    save_portfolio,
)
from tui.session.state import (
    POSITIONS_WATCHLIST,
)
from tui.session.values import (
    AddLot,
    RemoveLot,
    ReplaceLot,
    ShowPositions,
)
from tui.session.watchlists import WatchlistCommands


class PositionCommands(WatchlistCommands):
    """The position commands: the held-symbols list, lots added, replaced and removed, reloads."""

    def _on_ShowPositions(self, command: ShowPositions) -> None:
        if self.transient is not None and self.transient.name == POSITIONS_WATCHLIST:
            self.transient = self._saved_transient
            self._saved_transient = None
            self._edited()
            self.notice("information", f"Watchlist: {self.watchlist().name}")
            return
        held = self._held_symbols()
        if not held:
            self.notice(
                "information",
                "No positions yet: + on a grid row adds a lot, or run "
                "marketpane portfolio import FILE.csv",
            )
            return
        self._saved_transient = self.transient
        self.transient = Watchlist(
            name=POSITIONS_WATCHLIST, symbols=[WatchSymbol(code=c) for c in held]
        )
        self._edited()
        self.notice("information", f"Positions: {len(held)} symbols held")

    def _on_AddLot(self, command: AddLot) -> None:
        portfolios = [
            msgspec.structs.replace(p, lots=list(p.lots)) for p in self.portfolio.portfolios
        ]
        target = next((p for p in portfolios if p.name == command.portfolio), None)
        if target is None:
            target = Portfolio(name=command.portfolio)
            portfolios.append(target)
        target.lots.append(command.lot)
        lot = command.lot
        self._set_portfolio(
            portfolios,
            f"Lot added to {command.portfolio}: {lot.quantity} {lot.symbol} at {lot.price}",
        )

    def _on_ReplaceLot(self, command: ReplaceLot) -> None:
        self._edit_lot(command.portfolio, command.index, command.lot)

    def _on_RemoveLot(self, command: RemoveLot) -> None:
        self._edit_lot(command.portfolio, command.index, None)

    def _edit_lot(self, name: str, index: int, lot: Lot | None) -> None:
        portfolios = [
            msgspec.structs.replace(p, lots=list(p.lots)) for p in self.portfolio.portfolios
        ]
        target = next((p for p in portfolios if p.name == name), None)
        if target is None or not 0 <= index < len(target.lots):
            self.notice("error", f"There is no lot {index + 1} in portfolio {name!r}")
            return
        if lot is None:
            gone = target.lots.pop(index)
            words = f"Lot removed from {name}: {gone.quantity} {gone.symbol}"
        else:
            target.lots[index] = lot
            words = f"Lot changed in {name}: {lot.quantity} {lot.symbol} at {lot.price}"
        self._set_portfolio([p for p in portfolios if p.lots or p.name != name], words)

    def _set_portfolio(self, portfolios: list[Portfolio], words: str) -> None:
        """Adopt and save the portfolios (atomically); the view gets them in the next batch."""
        book = msgspec.structs.replace(self.portfolio, portfolios=portfolios)
        path = self.portfolio_path
        if self.options.persist and path is not None:
            try:
                save_portfolio(book, path)
            except (OSError, PortfolioError) as exc:
                self.notice("error", f"Positions not saved: {exc}")
                return
            if self._portfolio_watch is not None:
                self._portfolio_watch.seen()
        self.portfolio = book
        self._portfolio_dirty = True
        self._refresh_held_list()
        self.notice("information", words)
        self._changed()

    def _reload_portfolio(self, path: Path) -> None:
        """Another process changed the portfolio file: show what it holds now."""
        try:
            book = load_portfolio(path)
        except PortfolioError as exc:
            self._notices.append(Notice("error", f"Positions not reloaded: {exc}", time.time()))
            return
        if book == self.portfolio:
            return
        self.portfolio = book
        self._portfolio_dirty = True
        self._refresh_held_list()
        lots = sum(len(p.lots) for p in book.portfolios)
        self._notices.append(Notice("information", f"Positions reloaded: {lots} lots", time.time()))
