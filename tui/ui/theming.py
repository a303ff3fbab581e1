"""The base of the view: its session and options, the themes it registers, the palette it
draws with, and toasts that never run markup."""

from __future__ import annotations

import os

from textual.app import App
from textual.filter import Monochrome
from textual.notifications import SeverityLevel
from textual.theme import Theme

from tui import paths
from tui.protocol.text import clean_text
from tui.ui.ansi import NoColour, SixteenColours
from tui.ui.link import SessionLink, ViewOptions
from tui.ui.render import Palette
from tui.ui.themes import (
    DEFAULT_THEME,
    MONO_THEME,
    load_themes,
    shipped_themes_dir,
    with_direction_colours,
)


class ThemedApp(App[int]):
    """Session, options, themes and palette for the view built on it."""

    def __init__(self, session: SessionLink, options: ViewOptions) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.display_config = options.display
        self.palette = Palette.from_variables({})
        self.marketpane_themes: list[str] = []

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast whose text is shown as it is: notices quote servers, files and the user, so
        markup is off unless a caller asks for it, and control characters are made visible."""
        super().notify(
            clean_text(message), title=title, severity=severity, timeout=timeout, markup=markup
        )

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {
            "mp-up": "#3fb950",
            "mp-down": "#f85149",
            "mp-flat": "#8b949e",
            "mp-stale": "#7d8590",
            "mp-up-flash": "#1f4d2b",
            "mp-down-flash": "#5a1f1f",
            "mp-axis": "#8b949e",
            "mp-volume": "#5a7bb0",
            "mp-bold-direction": "no",
            "mp-cursor": "#1f2a3d",
            "mp-cursor-dim": "#8b949e",
        }

    def _load_themes(self) -> None:
        display = self.display_config
        loaded = load_themes(shipped_themes_dir(), paths.user_themes_dir())
        for theme in loaded.themes:
            self.register_theme(with_direction_colours(theme, display.up_color, display.down_color))
            self.marketpane_themes.append(theme.name)
        problems = list(loaded.problems)
        if self.options.theme_problem:
            problems.append(self.options.theme_problem)
        wanted = self.options.theme or display.theme
        if os.environ.get("NO_COLOR"):
            wanted = MONO_THEME
        if wanted not in self.marketpane_themes:
            problems.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        if self.marketpane_themes:  # Textual's own themes lack marketpane's colours: not offered
            for name in list(self.available_themes):
                if name not in self.marketpane_themes:
                    self.unregister_theme(name)
        self._themes_ready = True
        if problems:  # one notice, however many files were bad
            self.notify("\n".join(problems), title="Theme", severity="warning", timeout=8)

    def _on_theme_changed(self, theme: Theme) -> None:
        """Resolve the new theme's colours, then redraw what uses them."""
        self.get_css_variables()
        self.palette = Palette.from_variables(self.theme_variables)
        self._colour_filters(theme)
        self.palette_changed()

    def _colour_filters(self, theme: Theme) -> None:
        """No colour at all under ``NO_COLOR`` (not Textual's grey tones), and the themes'
        own 16-colour forms on a 16-colour terminal (:mod:`tui.ui.ansi`). Textual keeps its
        filters in a private list (pinned to its minor version for this)."""
        variables = self.theme_variables
        cursor = variables.get("mp-cursor", "#1f2a3d")
        kept = [
            f for f in self._filters if not isinstance(f, Monochrome | NoColour | SixteenColours)
        ]
        if self.no_color:
            kept.append(NoColour(cursor=cursor))
        elif self.console.color_system == "standard":
            flashes = (variables.get("mp-up-flash", ""), variables.get("mp-down-flash", ""))
            kept.append(
                SixteenColours(
                    dark=theme.dark, cursor=cursor, flashes=tuple(f for f in flashes if f)
                )
            )
        self._filters[:] = kept

    def palette_changed(self) -> None:
        """Redraw everything drawn with the palette (the view overrides this)."""

    def action_cycle_theme(self) -> None:
        names = self.marketpane_themes or [self.theme]
        index = names.index(self.theme) if self.theme in names else -1
        self.action_set_theme(names[(index + 1) % len(names)])

    def action_set_theme(self, name: str) -> None:
        if name in self.available_themes:
            self.theme = name
            self.notify(f"Theme: {name}")

    def watch_theme(self, name: str) -> None:
        """A theme chosen by any means (``t``, the palette's picker) is saved."""
        if getattr(self, "_themes_ready", False) and name in self.marketpane_themes:
            self.theme_chosen(name)

    def theme_chosen(self, name: str) -> None:
        """The user picked theme ``name`` (the view saves it through its session)."""
