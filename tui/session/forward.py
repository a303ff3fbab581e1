"""From the engine's batches to the view's: values only, each story once, marks of its own."""

from __future__ import annotations

import time

import msgspec

from tui.engine.status import Batch, FeedStatus
from tui.engine.store import MarketStore
from tui.engine.stories import NewsItem
from tui.session.alerting import AlertCommands
from tui.session.mirror import quote_state
from tui.session.state import (
    NEWS_FORMS_KEPT,
)
from tui.session.values import (
    SeriesDelta,
    SessionBatch,
)


class Forwarding(AlertCommands):
    """From the engine's batches to the view's: values only, each story once, marks of its own."""

    def _unsent(self, items: list[NewsItem]) -> list[NewsItem]:
        """The stories of a batch this view has not been sent in exactly this form: a story
        that comes again unchanged (a feed's replay on reconnect, a fleet snapshot beside the
        leader's messages) is never a second line on screen."""
        fresh: list[NewsItem] = []
        for item in items:
            form = msgspec.msgpack.encode(item)
            seen = self._news_forms.setdefault(item.key, set())
            if form in seen:
                continue
            seen.add(form)
            fresh.append(item)
        while len(self._news_forms) > NEWS_FORMS_KEPT:
            del self._news_forms[next(iter(self._news_forms))]
        return fresh

    def deliver(self, batch: Batch) -> SessionBatch:
        """An engine batch as a session batch for the view (the hub calls this with the
        batches it paced for this pane, and sends the result)."""
        return self._compose(batch)

    def shown_store(self) -> MarketStore:
        """Where the quotes, series and news shown come from: the engine's store."""
        return self.engine.store if self.engine else MarketStore()

    def shown_statuses(self) -> list[FeedStatus]:
        """The feeds' statuses shown (the engine's)."""
        return self.engine.statuses() if self.engine else []

    def _forward(self, batch: Batch) -> None:
        """Turn an engine batch into values and hand it to the view (once it runs)."""
        if self.on_batch is not None:
            self.on_batch(self._compose(batch))

    def _compose(self, batch: Batch) -> SessionBatch:
        """What the view needs of an engine batch: values, never the store's objects."""
        store = self.shown_store()
        quotes = [quote_state(store.quotes[c]) for c in batch.quotes if c in store.quotes]
        series: list[SeriesDelta] = []
        for code, change in batch.series.items():
            buffer = store.series.get(code)
            if buffer is None:
                continue
            if change.reloaded:
                count = len(buffer.bars)
            else:  # bars: the one before the new ones may have been replaced; ticks never are
                count = change.appended + (0 if buffer.ticks else 1)
            series.append(
                SeriesDelta(
                    code=code,
                    bar_type=buffer.bar_type,
                    reloaded=change.reloaded,
                    bars=buffer.bars.tail(count),
                    ticks=buffer.ticks,
                    loaded_at=buffer.loaded_at,
                    updated_at=buffer.updated_at,
                )
            )
        engine = self.engine
        statuses = self.shown_statuses()
        rewound = self.replay_clock.rewinds != self._rewinds_sent
        if rewound:  # the view starts again from an empty store, so every story is new
            self._rewinds_sent = self.replay_clock.rewinds
            self._news_forms.clear()
        state = self.view_state() if self._state_dirty else None
        self._state_dirty = False
        notices = [*self._notices, *batch.notices]
        self._notices = []
        forget, self._forget = self._forget, []
        watch = self._portfolio_watch
        if watch is not None and watch.changed():
            self._reload_portfolio(watch.path)
        portfolio = self.portfolio if self._portfolio_dirty else None
        self._portfolio_dirty = False
        alerts = None
        if engine is not None and engine.alerts.version != self._alerts_version:
            self._alerts_version = engine.alerts.version
            alerts = list(engine.alerts.views())
        return SessionBatch(
            rewound=rewound,
            replay=self.replay_clock.describe() if self.options.replay else None,
            quotes=quotes,
            series=series,
            news=self._unsent(batch.news),
            notices=notices,
            statuses=[msgspec.structs.replace(s) for s in statuses],
            budget=engine.budget_text() if engine else "",
            # A replay sends nothing upstream: no subscription change is ever pending.
            pending=engine.pending if engine and self.options.replay is None else None,
            warning=engine.loop_warning() if engine else None,
            state=state,
            removed=forget,
            plan=engine.plan_use() if engine else None,
            marks=self._own(engine.marks()[0]) if engine else {},
            series_marks=self._own(engine.marks()[1]) if engine else {},
            via=engine.via if engine else None,
            alerts=alerts,
            portfolio=portfolio,
            sent_at=batch.sent_at or time.time(),
        )

    def _own(self, marks: dict[str, str]) -> dict[str, str]:
        """The marks of this session's symbols (a shared engine marks every pane's)."""
        if not self.shared:
            return dict(marks)
        codes = {s.code for s in self.watchlist().symbols}
        own = {code: why for code, why in marks.items() if code in codes}
        note = self.mark_note() if self.mark_note is not None and own else ""
        if note:  # a full plan: say whose use left these out
            full = f"not subscribed: plan full, {note}"
            own = {c: full if "plan allows" in why else why for c, why in own.items()}
        return own

    def publish_static_changes(self) -> None:
        """A batch of state and notices only (no engine)."""
        self._forward(Batch())
