"""Chart, news list, news ticker and status bar widgets."""

from __future__ import annotations

import time

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.engine.status import FeedState, FeedStatus, latency_words
from tui.engine.store import SeriesBuffer
from tui.engine.stories import NewsItem
from tui.protocol.live import Bar
from tui.ui.render import (
    SENTIMENT_MARKS,
    ChartLine,
    Palette,
    age_text,
    bar_kind,
    clock_text,
    compact_number,
    render_chart,
)

MAX_NEWS_LINES = 200
"""News lines kept in the list (the store keeps more)."""


class ChartView(Widget):
    """OHLC candles or bars for the focused symbol, drawn through the line API.

    Every redraw recomputes the chart's lines (cheap: plain tuples) and asks Textual to repaint
    only the lines that differ, so a tick that moves the last candle repaints a few rows rather
    than the whole panel; each line's strip is cached until it changes.
    """

    DEFAULT_CSS = """
    ChartView { height: 1fr; min-height: 5; border: round $panel; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.series: SeriesBuffer | None = None
        self.code: str | None = None
        self.label = ""
        self.mark: str | None = None
        """Why the focused symbol's series is not subscribed (plan full, rejected), or None."""
        self.mode = "candles"
        self.fill_gaps_seconds = 0.0
        self.decimals = 0
        """The least precision of the prices (the grid's for the charted symbol)."""
        self.palette = Palette.from_variables({})
        self.lines: list[ChartLine] = []
        self._strips: dict[int, Strip] = {}
        self._drawn_size: Size | None = None
        self._base_style = Style()
        self.lines_repainted = 0
        """Lines handed to Textual for repainting (the benchmark and tests read it)."""

    def show(self, code: str | None, series: SeriesBuffer | None, label: str) -> None:
        """Point the chart at a series and redraw what changed."""
        self.code, self.series, self.label = code, series, label
        self.redraw()

    def compute_lines(self, width: int, height: int) -> list[ChartLine]:
        """The chart's lines for a content area of ``width`` x ``height``."""
        if self.code is None:
            return [(("Press Enter on a symbol to chart it"[:width], self.palette.flat),)]
        if self.mark is not None:
            return [
                ((fit_words(self.code, width), self.palette.accent),),
                ((fit_words(self.mark, width), self.palette.down),),
            ]
        trades = self.series is not None and bar_kind(self.series.bar_type) == "tick"
        title = f"{self.code} · {self.label} · {'trades' if trades else self.mode}"
        bars: list[Bar] = []
        if self.series is not None:
            count = max(1, width)
            bars = (
                self.series.fill_gaps(self.fill_gaps_seconds, count)
                if self.fill_gaps_seconds
                else self.series.bars.tail(count)
            )
        bar_type = self.series.bar_type if self.series is not None else None
        return render_chart(
            bars,
            width,
            height,
            self.palette,
            title=title,
            mode=self.mode,
            bar_type=bar_type,
            decimals=self.decimals,
        )

    def redraw(self) -> None:
        """Recompute the lines; repaint only those that changed."""
        width, height = self.size
        if not self.is_mounted or width <= 0 or height <= 0:
            self.refresh()
            return
        if self._draw_afresh():
            self.lines_repainted += height
            self.refresh()
            return
        old, self.lines = self.lines, self.compute_lines(width, height)
        for y in range(max(len(old), len(self.lines))):
            if y >= len(old) or y >= len(self.lines) or old[y] != self.lines[y]:
                self._strips.pop(y, None)
                if y < height:
                    self.lines_repainted += 1
                    self.refresh(Region(0, y, width, 1))

    def notify_style_update(self) -> None:
        """Textual's hook after the CSS changed (theme): the next drawing starts afresh."""
        super().notify_style_update()
        self._drawn_size = None

    def _draw_afresh(self) -> bool:
        """Recompute every line if the size or the style changed since the last drawing;
        returns whether it did."""
        if self.size == self._drawn_size:
            return False
        self._drawn_size, self._base_style = self.size, self.rich_style
        self.lines = self.compute_lines(*self.size)
        self._strips.clear()
        return True

    def render_line(self, y: int) -> Strip:
        self._draw_afresh()
        strip = self._strips.get(y)
        if strip is None:
            base, width = self._base_style, self.size.width
            segments: list[Segment] = []
            used = 0
            if y < len(self.lines):
                for text, style in self.lines[y]:
                    segments.append(Segment(text, base + style if style is not None else base))
                    used += cell_len(text)
            if used < width:
                segments.append(Segment(" " * (width - used), base))
            strip = Strip(segments).crop(0, width)
            self._strips[y] = strip
        return strip


def fit_words(text: str, width: int) -> str:
    """``text`` cut at a word boundary to fit ``width`` terminal cells (wide characters count
    two), with an ellipsis if cut."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    cut = set_cell_size(text, width - 1).rstrip(" ")
    following = text[len(cut)] if len(cut) < len(text) else " "
    if " " in cut and following != " ":
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:·-") + "…"


def news_line(item: NewsItem, palette: Palette, width: int) -> Text:
    """``12:03 AAPL ▲ Bullish Title · Source``, cut at a word boundary to ``width``.

    The sentiment label is spelled out where the pane is wide, so it never relies on colour.
    """
    line = Text(no_wrap=True, end="")
    line.append(clock_text(item.published) + " ", palette.axis)
    if item.tickers:
        tickers = fit_words(",".join(item.tickers[:2]), max(4, width // 4))
        line.append(tickers + " ", palette.accent)
    if item.label:  # spelled out unless it would leave the headline under 24 cells
        mark, role = SENTIMENT_MARKS.get(item.label, ("•", "flat"))
        style = {"up": palette.up, "down": palette.down}.get(role, palette.flat)
        spelled = f"{mark} {item.label} "
        room = width - line.cell_len - cell_len(spelled)
        line.append(spelled if room >= 24 else f"{mark} ", style)
    source = f" · {item.source}" if width >= 60 else ""
    room = max(4, width - line.cell_len - cell_len(source))
    line.append(fit_words(item.title, room))
    if cell_len(item.title) <= room:
        line.append(source, palette.axis)
    line.truncate(width, overflow="ellipsis")  # a sliver of a pane: never past its edge
    return line


class NewsList(OptionList):
    """Newest-first headlines; Enter opens the detail view."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
    DEFAULT_CSS = """
    NewsList { height: 1fr; border: round $panel; scrollbar-size-vertical: 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.items: list[NewsItem] = []
        self.palette = Palette.from_variables({})

    def show(self, items: list[NewsItem]) -> None:
        """Replace the list with ``items`` (newest first, bounded); the highlighted story
        stays highlighted as new ones arrive above it while the list has focus;
        an unfocused list keeps its place from the top."""
        held = self.selected_item() if self.has_focus else None
        self.items = items[:MAX_NEWS_LINES]
        width = max(20, self.scrollable_content_region.width - 1)
        index = self.highlighted
        self.set_options(
            Option(news_line(item, self.palette, width), id=item.key) for item in self.items
        )
        if held is not None:
            index = next((i for i, item in enumerate(self.items) if item.key == held.key), index)
        if index is not None and self.items:
            self.highlighted = min(index, len(self.items) - 1)

    def on_resize(self) -> None:
        """Re-fit the lines to the new width."""
        if self.items:
            self.show(self.items)

    def on_focus(self) -> None:
        """Tab to the news: the newest story is highlighted, so Enter opens it at once."""
        if self.highlighted is None and self.items:
            self.highlighted = 0

    def selected_item(self) -> NewsItem | None:
        """The highlighted item."""
        index = self.highlighted
        return self.items[index] if index is not None and index < len(self.items) else None


class NewsTicker(Static):
    """Compact mode: the latest headline on one line."""

    DEFAULT_CSS = """
    NewsTicker { height: 1; background: $panel; }
    """

    def show(self, item: NewsItem | None, palette: Palette) -> None:
        """Show ``item``."""
        width = max(10, self.size.width or 40)
        self.update(
            news_line(item, palette, width) if item else Text("no news yet"), layout=False
        )  # one fixed line: no layout pass needed


STATE_MARK = {
    FeedState.LIVE: "●",
    FeedState.CONNECTING: "◌",
    FeedState.RECONNECTING: "◌",
    FeedState.STOPPED: "✖",
    FeedState.IDLE: "○",
}
"""One mark per feed state (the state is also spelled out where there is room)."""
SHORT_NAMES = {"live": "live", "newsfeed": "news", "stocknews": "sn"}
"""Feed names in narrow panes."""


def feed_text(status: FeedStatus, now: float, palette: Palette, *, wide: bool) -> Text:
    """One feed's part of the status bar."""
    name = status.name if wide else SHORT_NAMES.get(status.name, status.name)
    state = status.state
    style = {FeedState.LIVE: palette.up, FeedState.STOPPED: palette.down}.get(state, palette.flat)
    text = Text()
    text.append(f"{name} {STATE_MARK[state]}", style)
    if state is FeedState.RECONNECTING and status.retry_at:
        text.append(f" retry {max(0, status.retry_at - now):.0f}s", palette.flat)
    elif state is FeedState.STOPPED:
        text.append(f" {status.detail or 'stopped'}", palette.down)  # why, until the user acts
    elif state is FeedState.CONNECTING:
        text.append(" connecting" if wide else "", palette.flat)
    elif state is FeedState.LIVE:
        if status.latency_ms is not None:
            words, warning = latency_words(status.latency_ms, short=not wide)
            text.append(f" {words}", palette.down if warning else palette.flat)
        if wide and status.heartbeat_at:
            text.append(f" hb {age_text(now - status.heartbeat_at)}", palette.flat)
        if wide:
            text.append(f" {status.rate:.0f}/s", palette.flat)
            if status.byte_rate:
                text.append(f" {compact_number(round(status.byte_rate))}B/s", palette.flat)
    if wide and status.key_expiry:
        left = status.key_expiry - now
        text.append(
            f" key {age_text(left)}" if left > 0 else " key expired",
            palette.flat if left > 86400 else palette.down,
        )
    return text


PAUSED = "PAUSED"
"""The status bar badge the app passes while the display is paused."""
BADGES = ("PAUSED", "DEMO", "REPLAY")
"""Badges: drawn first, reversed, at every width (visible down to 40x12)."""


class StatusBar(Static):
    """Badges, feed states, latency, heartbeat age, rate, plan use, budget, key expiry."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $foreground; }
    """

    def show(
        self,
        statuses: list[FeedStatus],
        extra: list[str],
        palette: Palette,
        now: float | None = None,
    ) -> None:
        """Redraw from feed statuses and extra parts (badges, plan, budget, pending): the most
        detail that fits the width; badges (``PAUSED``, ``DEMO``, ``REPLAY``) always first so
        no pane is too narrow to show them."""
        now = time.time() if now is None else now
        width = self.size.width
        for detail in (3, 2, 1, 0):
            line = self.status_line(statuses, extra, palette, now, detail)
            if line.cell_len <= width:
                break
        parts = list(extra)
        while line.cell_len > width and any(p.split(" ", 1)[0] not in BADGES for p in parts):
            last = max(i for i, p in enumerate(parts) if p.split(" ", 1)[0] not in BADGES)
            del parts[last]  # drop the least important part whole: never a figure cut short
            line = self.status_line(statuses, parts, palette, now, 0)
        if line.plain != getattr(self, "_shown", None) or line.spans != getattr(
            self, "_spans", None
        ):
            self._shown, self._spans = line.plain, list(line.spans)
            self.update(line, layout=False)  # one fixed line: no layout pass needed

    @staticmethod
    def status_line(
        statuses: list[FeedStatus], extra: list[str], palette: Palette, now: float, detail: int
    ) -> Text:
        """The bar at a level of detail: 3 everything, 2 short budget and plan labels, 1 also
        short feed names without heartbeat ages and rates, 0 the bare minimum."""
        line = Text(no_wrap=True, overflow="ellipsis")
        badges = [p for p in extra if p.split(" ", 1)[0] in BADGES]
        for badge in badges:
            word = badge if detail >= 3 else badge.split(" ", 1)[0]
            line.append(f" {word} ", palette.accent + Style(reverse=True, bold=True))
            line.append(" ")
        for index, status in enumerate(statuses):
            if index:
                line.append(" │ ", palette.axis)
            line.append_text(feed_text(status, now, palette, wide=detail >= 2))
        for part in extra:
            if part in badges:
                continue
            line.append(" │ ", palette.axis)
            warn = part.startswith("!")
            part = part.lstrip("!")
            if detail < 3:
                part = part.replace(" in the last 3 h", "").replace("plan ", "")
                part = part.replace(" not subscribed)", " out)")
            if detail < 1:
                part = part.replace("budget ", "")
            line.append(part, palette.down if warn else palette.flat)
        return line
