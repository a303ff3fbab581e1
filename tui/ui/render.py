"""Pure rendering helpers: numbers, sparklines, badges and the candle chart as styled runs.

No Textual here: the palette is built from the app's theme variables and passed in, so these
functions are unit-testable and cheap to call on the hot path.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.style import Style

from tui.protocol.live import Bar
from tui.ui.prices import ABSURD_MAGNITUDE, instrument_decimals

SPARK_CHARS = "▁▂▃▄▅▆▇█"
"""Eight levels for sparklines and volume bars."""
UP_ARROW, DOWN_ARROW, FLAT_MARK = "▲", "▼", "•"
"""Direction marks, so direction never depends on colour alone."""


@dataclass(frozen=True)
class Palette:
    """Rich styles resolved from the theme's ``mp-*`` variables."""

    up: Style
    down: Style
    flat: Style
    stale: Style
    up_flash: Style
    down_flash: Style
    axis: Style
    volume: Style
    accent: Style
    cursor_dim: Style
    """A stale cell on the cursor row: a colour that keeps 4.5:1 against the cursor."""

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> Palette:
        """Build from ``App.theme_variables`` (falls back to plain styles)."""

        def color(name: str, fallback: str = "default") -> str:
            value = variables.get(name, fallback)
            return value if value.startswith("#") else fallback

        bold = variables.get("mp-bold-direction", "no") == "yes"
        return cls(
            up=Style(color=color("mp-up"), bold=bold),
            down=Style(color=color("mp-down"), italic=bold, underline=bold),
            flat=Style(color=color("mp-flat")),
            # Stale is a weaker colour that stays readable (never dim: dim text on a dark
            # ground is what 256-colour terminals turn invisible), with the age beside it.
            stale=Style(color=color("mp-stale")),
            # A flash is the theme's text on a tinted ground: a direction colour on its own
            # tint loses most of its contrast once a terminal rounds both to 256 colours.
            up_flash=Style(color=color("foreground"), bgcolor=color("mp-up-flash"), bold=True),
            down_flash=Style(color=color("foreground"), bgcolor=color("mp-down-flash"), bold=True),
            axis=Style(color=color("mp-axis")),
            volume=Style(color=color("mp-volume")),
            accent=Style(color=color("accent"), bold=True),
            cursor_dim=Style(color=color("mp-cursor-dim", color("mp-flat"))),
        )

    def direction(self, value: float | None) -> Style:
        """Style for a signed change."""
        if value is None or value == 0:
            return self.flat
        return self.up if value > 0 else self.down


SENTIMENT_MARKS = {
    "Very Bullish": ("▲▲", "up"),
    "Bullish": ("▲", "up"),
    "Neutral": ("•", "flat"),
    "Bearish": ("▼", "down"),
    "Very Bearish": ("▼▼", "down"),
}
"""Sentiment label to mark and palette role (the label is also shown in words)."""
OVERFLOW_MARK = "#"
"""Fills a numeric cell whose value does not fit: a cut number would read as a real one."""


def fit_cells(text: str, width: int, *, right: bool = False) -> str:
    """``text`` cut or padded to exactly ``width`` terminal cells (wide CJK and emoji count
    two; a wide character that would straddle the edge becomes a space)."""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width)
    padding = " " * (width - length)
    return padding + text if right else text + padding


def fit_number(text: str, width: int) -> str:
    """A right-aligned number in ``width`` cells, or ``####`` when it does not fit whole."""
    if cell_len(text) > width:
        return OVERFLOW_MARK * width
    return fit_cells(text, width, right=True)


def compact_number(value: float | None) -> str:
    """``47.5M`` style for volumes and market caps."""
    if value is None:
        return "—"
    if abs(value) >= ABSURD_MAGNITUDE:
        return f"{value:.1e}"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def signed(value: float | None, suffix: str = "", decimals: int = 2) -> str:
    """``+1.25%`` / ``-1,974.46``; an arrow mark is added by the caller."""
    if value is None:
        return "—"
    return f"{value:+,.{decimals}f}{suffix}"


def arrow(value: float | None) -> str:
    """▲ for up, ▼ for down, • for flat or unknown."""
    if not value:
        return FLAT_MARK
    return UP_ARROW if value > 0 else DOWN_ARROW


def delay_badge(delay: float | None) -> str:
    """``RT``, ``15m`` or ``EOD`` from ``delay_seconds`` (guide section 3; ``900.0`` too)."""
    if delay is None:
        return "?"
    delay_seconds = int(delay)
    if delay_seconds == 0:
        return "RT"
    if delay_seconds < 0:
        return "EOD"
    return f"{delay_seconds // 60}m" if delay_seconds >= 60 else f"{delay_seconds}s"


def age_text(seconds: float | None) -> str:
    """``3s``, ``4m``, ``2h``, ``5d`` since the last update."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


TREND_MIN_SPAN = 0.002
"""The Trend scale spans at least 0.2 % of the price: noise draws nearly flat, not as a
full-height swing."""


def sparkline(values: Sequence[float], width: int) -> str:
    """``values`` (oldest first) resampled to ``width`` block characters, on a scale of at
    least :data:`TREND_MIN_SPAN` of the price; fewer values than cells are drawn at the right."""
    if width <= 0:
        return ""
    data = list(values)
    if not data:
        return " " * width
    if len(data) > width:  # each cell shows the last value of its share of the window
        count = len(data)
        data = [data[min(count - 1, round((i + 1) * count / width) - 1)] for i in range(width)]
    low, high = min(data), max(data)
    floor_span = abs(data[-1]) * TREND_MIN_SPAN
    if high - low < floor_span:
        middle = (high + low) / 2
        low, high = middle - floor_span / 2, middle + floor_span / 2
    span = high - low
    if span <= 0:
        chars = SPARK_CHARS[3] * len(data)
    else:
        top = len(SPARK_CHARS) - 1
        chars = "".join(SPARK_CHARS[round((v - low) / span * top)] for v in data)
    return chars.rjust(width)


def clock_text(epoch: float, *, seconds: bool = False) -> str:
    """Local ``HH:MM`` (``HH:MM:SS`` with ``seconds``)."""
    return time.strftime("%H:%M:%S" if seconds else "%H:%M", time.localtime(epoch))


def _nice_step(span: float, rows: int) -> float:
    """A round price step for about ``rows`` axis labels."""
    raw = span / max(1, rows)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


Run = tuple[str, "Style | None"]
"""A run of characters in one style (None: the widget's own style)."""
ChartLine = tuple[Run, ...]
"""One chart line as runs; equal lines compare equal, so the widget repaints only changes."""


class _LineBuilder:
    """Appends characters, merging neighbours of the same style into one run."""

    __slots__ = ("_chars", "_style", "runs")

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self._chars: list[str] = []
        self._style: Style | None = None

    def add(self, text: str, style: Style | None = None) -> None:
        if style is not self._style and style != self._style:
            self._flush()
            self._style = style
        self._chars.append(text)

    def _flush(self) -> None:
        if self._chars:
            self.runs.append(("".join(self._chars), self._style))
            self._chars = []

    def line(self) -> ChartLine:
        self._flush()
        return tuple(self.runs)


def axis_price(value: float, decimals: int) -> str:
    """An axis label at the instrument's precision (never a rounded, wrong-looking price)."""
    if abs(value) >= ABSURD_MAGNITUDE:
        return f"{value:.2e}"
    return f"{value:,.{decimals}f}"


TIME_FORMATS = {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m", "second": "%H:%M:%S"}
"""Time-axis label formats by bar type (minutes and hours: ``%H:%M``; ticks: seconds)."""


LABEL_KINDS = {"T": "tick", "s": "second", "m": "minute", "h": "hour", "D": "day", "W": "week"}
"""A response's ``bar_type`` label suffix (``1m``, ``5s``, ``1T``, ``1D``) and its kind."""


def bar_kind(bar_type: str | None) -> str:
    """``tick``, ``second``, ``minute``, ``hour``, ``day``, ``week`` or ``month`` for a
    ``bar_type`` written either way (``"minute"`` in a request, ``"1m"`` in a response)."""
    text = (bar_type or "minute").strip()
    if text.rstrip("s") in ("tick", "second", "minute", "hour", "day", "week", "month"):
        return text.rstrip("s")
    if text[:1].isdigit() and text[-1:] in LABEL_KINDS:
        return LABEL_KINDS[text[-1]]
    if text[:1].isdigit() and text[-1:] == "M":
        return "month"
    return "minute"


def bar_time_text(epoch: float, bar_type: str | None) -> str:
    """A bar's time for the axis and the readout."""
    kind = bar_kind(bar_type)
    fmt = TIME_FORMATS.get(kind, "%H:%M:%S" if kind == "tick" else "%H:%M")
    return time.strftime(fmt, time.localtime(epoch))


def bar_readout(bar: Bar, decimals: int, bar_type: str | None, width: int = 200) -> str:
    """``14:31 O 239.10 H 239.30 L 239.00 C 239.21 V 4.9K`` (a trade: price and size), in
    whole figures only: where ``width`` is short, O/H/L go first, then the volume."""
    when = bar_time_text(bar.time, bar_type)

    def figure(name: str, value: float | None, volume: bool = False) -> str:
        if value is None:
            return f"{name} —"
        return f"{name} {compact_number(value) if volume else axis_price(value, decimals)}"

    if bar_kind(bar_type) == "tick":
        forms = [[when, figure("trade", bar.close), figure("size", bar.volume, True)]]
    else:
        ohlc = [figure(n, v) for n, v in (("O", bar.open), ("H", bar.high), ("L", bar.low))]
        close, volume = figure("C", bar.close), figure("V", bar.volume, True)
        forms = [[when, *ohlc, close, volume], [when, close, volume], [when, close]]
    for parts in forms:
        text = " ".join(parts)
        if cell_len(text) <= width:
            return text
    return forms[-1][-1] if cell_len(forms[-1][-1]) <= width else ""


def render_chart(
    bars: Sequence[Bar],
    width: int,
    height: int,
    palette: Palette,
    *,
    title: str,
    mode: str = "candles",
    bar_type: str | None = None,
    decimals: int = 0,
) -> list[ChartLine]:
    """Draw OHLC candles (or bars, or a tick series as trades) with a readout of the last bar,
    a price axis at the instrument's precision (labels never cut), a last-price marker, a
    volume strip and a time axis.

    ``decimals`` is the least precision (the grid's for the symbol: a 1 s series whose closes
    happen to end in zeros still reads ``239.10``).

    Returns one tuple of ``(text, style)`` runs per line, at most ``height`` lines, each at
    most ``width`` cells.
    """
    lines: list[ChartLine] = [((set_cell_size(title, width).rstrip(), palette.accent),)]
    if height < 3 or width < 12:
        return lines
    usable = [b for b in bars if b.close is not None]
    if not usable:
        lines.append((("waiting for bars…", palette.flat),))
        return lines
    decimals = instrument_decimals((b.close for b in usable[-200:]), decimals)
    readout = height >= 6
    time_axis = height >= 7
    if readout:
        text = bar_readout(usable[-1], decimals, bar_type, width)
        lines.append(((text, palette.flat),))
    last = usable[-1].close or 0.0
    widest = max(
        cell_len(axis_price(v, decimals))
        for v in (
            max(b.high or b.close or 0.0 for b in usable),
            min(b.low or b.close or 0.0 for b in usable),
            last,
        )
    )
    axis_width = min(widest + 2, width // 2)  # "◀" + label + a space, never cut
    plot_width = width - axis_width
    usable = usable[-plot_width:]
    free = height - len(lines) - (1 if time_axis else 0)
    volume_rows = 0 if free < 8 else max(1, free // 5)
    price_rows = free - volume_rows
    if price_rows < 2:
        return lines
    highs = [b.high if b.high is not None else b.close for b in usable]
    lows = [b.low if b.low is not None else b.close for b in usable]
    top, bottom = max(h for h in highs if h is not None), min(v for v in lows if v is not None)
    if top == bottom:
        top, bottom = top * 1.001 + 1e-9, bottom * 0.999 - 1e-9
    span = top - bottom

    def row_of(price: float) -> int:
        return min(price_rows - 1, max(0, round((top - price) / span * (price_rows - 1))))

    trades = bar_kind(bar_type) == "tick"
    grid: list[list[tuple[str, Style | None]]] = [
        [(" ", None)] * plot_width for _ in range(price_rows)
    ]
    offset = plot_width - len(usable)
    previous_close: float | None = None
    for index, bar in enumerate(usable):
        x = offset + index
        close = bar.close or 0.0
        if trades:  # a trade has one price: a dot, coloured by the move from the last trade
            up = previous_close is None or close >= previous_close
            grid[row_of(close)][x] = ("•", palette.up if up else palette.down)
            previous_close = close
            continue
        open_ = bar.open if bar.open is not None else close
        high = bar.high if bar.high is not None else max(open_, close)
        low = bar.low if bar.low is not None else min(open_, close)
        style = palette.up if close >= open_ else palette.down
        r_high, r_low = row_of(high), row_of(low)
        r_open, r_close = row_of(open_), row_of(close)
        body_top, body_bottom = min(r_open, r_close), max(r_open, r_close)
        for y in range(r_high, r_low + 1):
            if mode == "candles":
                char = "█" if body_top <= y <= body_bottom else "│"
            else:  # OHLC bar in one column: open tick left, close tick right
                char = "│"
                if y == r_open and y == r_close:
                    char = "┼"
                elif y == r_open:
                    char = "┤"
                elif y == r_close:
                    char = "├"
            grid[y][x] = (char, style)
    last_row = row_of(last)
    labels: dict[int, str] = {
        0: axis_price(top, decimals),
        price_rows - 1: axis_price(bottom, decimals),
    }
    step = _nice_step(span, max(2, price_rows // 3))
    value = math.ceil(bottom / step) * step
    while value <= top:  # round steps between the top and bottom labels, never beside them
        row = row_of(value)
        if all(abs(row - taken) > 1 for taken in labels):
            labels[row] = axis_price(value, decimals)
        value += step
    last_style = (
        palette.up if len(usable) < 2 or last >= (usable[-2].close or last) else palette.down
    )
    for y in range(price_rows):
        line = _LineBuilder()
        for char, cell_style in grid[y]:
            line.add(char, cell_style)
        if y == last_row:
            line.add(
                ("◀" + axis_price(last, decimals)).ljust(axis_width),
                last_style + Style(reverse=True),
            )
        elif y in labels and abs(y - last_row) > 0:
            line.add((" " + labels[y]).ljust(axis_width), palette.axis)
        else:
            line.add(" " * axis_width)
        lines.append(line.line())
    if volume_rows:
        volumes = [b.volume or 0.0 for b in usable]
        peak = max(volumes) or 1.0
        levels = len(SPARK_CHARS)
        for row in range(volume_rows):
            line = _LineBuilder()
            line.add(" " * offset)
            for volume in volumes:
                fill = volume / peak * volume_rows - (volume_rows - 1 - row)
                if fill >= 1:
                    line.add("█", palette.volume)
                elif fill > 0:
                    line.add(SPARK_CHARS[min(levels - 1, int(fill * levels))], palette.volume)
                else:
                    line.add(" ")
            label = f" v{compact_number(peak)}" if row == 0 else ""
            line.add(set_cell_size(label, axis_width), palette.axis)
            lines.append(line.line())
    if time_axis:
        lines.append(_time_axis(usable, offset, plot_width, bar_type, palette))
    return lines


INTRADAY = ("tick", "second", "minute", "hour")
"""Bar kinds whose axis shows times of day, and so needs the day it crosses into."""


def _time_axis(
    bars: Sequence[Bar], offset: int, plot_width: int, bar_type: str | None, palette: Palette
) -> ChartLine:
    """Times under the plot: a label (left-aligned at its bar) every few bars, from the
    newest back, none overlapping. An intraday chart marks each new day first, at its first
    bar (``┊Mon``), so Friday's bars never read as today's."""
    cells = [" "] * plot_width
    taken = [False] * plot_width

    def place(x: int, label: str) -> bool:
        start, end = max(0, x - 1), x + len(label) + 1  # a free cell either side
        if x < 0 or x + len(label) > plot_width or any(taken[start : min(end, plot_width)]):
            return False
        cells[x : x + len(label)] = list(label)
        for i in range(x, x + len(label)):
            taken[i] = True
        return True

    if bar_kind(bar_type) in INTRADAY:
        days = [time.localtime(b.time)[:3] for b in bars]
        for index in range(len(bars) - 1, 0, -1):
            if days[index] != days[index - 1]:
                mark = "┊" + time.strftime("%a", time.localtime(bars[index].time))
                x = offset + index  # at its first bar, or ending there at the right edge
                if not place(x, mark):
                    place(x - len(mark) + 1, mark[1:] + "┊")
    right_edge = plot_width
    for index in range(len(bars) - 1, -1, -1):
        x = offset + index
        label = "╵" + bar_time_text(bars[index].time, bar_type)
        if x + len(label) <= right_edge and place(x, label):
            right_edge = x - 2
    line = _LineBuilder()
    line.add("".join(cells), palette.axis)
    return line.line()


def chart_line_text(line: ChartLine) -> str:
    """The plain characters of one chart line."""
    return "".join(text for text, _ in line)
