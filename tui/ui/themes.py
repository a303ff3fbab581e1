"""Themes: TOML files in ``themes/`` (and the user's config directory) as Textual ``Theme``s.

Shipped themes are read from the checkout's ``themes/`` directory, or from ``tui/_themes``
inside an installed wheel (hatch force-includes it), so both load the same. A bad theme file
yields one clear message and is skipped.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui.config import Config, ConfigError, config_key_line

DEFAULT_THEME = "marketpane-dark"
"""The theme used when none is configured or the configured one is unusable."""
MONO_THEME = "marketpane-mono"
"""The theme used when ``NO_COLOR`` is set."""
REQUIRED_VARIABLES = (
    "mp-up",
    "mp-down",
    "mp-flat",
    "mp-stale",
    "mp-up-flash",
    "mp-down-flash",
    "mp-axis",
    "mp-volume",
    "mp-bold-direction",
    "mp-cursor",
    "mp-cursor-dim",
)
"""Variables every marketpane theme defines (widgets read colours only from these)."""
THEME_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
"""Colour fields a theme file may set."""


def shipped_themes_dir() -> Path:
    """``themes/`` beside the package in a checkout, or ``tui/_themes`` in a wheel."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_themes"
    return installed if installed.is_dir() else package.parent / "themes"


@dataclass
class ThemeLoad:
    """Themes read from disk, and the problems found."""

    themes: list[Theme]
    problems: list[str]


def theme_from_toml(path: Path) -> Theme:
    """Parse one theme file; raises ValueError with a clear message."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read theme: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    name = data.pop("name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f'{path}: theme needs a name = "..."')
    variables = data.pop("variables", {})
    dark = data.pop("dark", True)
    if not isinstance(variables, dict) or not isinstance(dark, bool):
        raise ValueError(f"{path}: [variables] must be a table and dark a boolean")
    unknown = set(data) - set(THEME_FIELDS)
    if unknown:
        raise ValueError(f"{path}: unknown setting {sorted(unknown)[0]!r}")
    if "primary" not in data:
        raise ValueError(f"{path}: theme needs a primary colour")
    missing = [v for v in REQUIRED_VARIABLES if v not in variables]
    if missing:
        raise ValueError(f"{path}: [variables] lacks {missing[0]}")
    from textual.color import Color, ColorParseError

    for key, value in {
        **data,
        **{k: v for k, v in variables.items() if k != "mp-bold-direction"},
    }.items():
        try:
            Color.parse(str(value))
        except ColorParseError:
            raise ValueError(f"{path}: {key}: {value!r} is not a colour") from None
    colours: dict[str, Any] = {k: str(v) for k, v in data.items()}
    return Theme(
        name=name, dark=dark, variables={k: str(v) for k, v in variables.items()}, **colours
    )


def load_themes(*directories: Path) -> ThemeLoad:
    """Every ``*.toml`` theme in ``directories``; later directories override earlier ones."""
    found: dict[str, Theme] = {}
    problems: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = theme_from_toml(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            found[theme.name] = theme
    return ThemeLoad(list(found.values()), problems)


def with_direction_colours(theme: Theme, up: str | None, down: str | None) -> Theme:
    """A copy of ``theme`` with the configured up/down colours."""
    if not up and not down:
        return theme
    variables = dict(theme.variables)
    if up:
        variables["mp-up"] = up
    if down:
        variables["mp-down"] = down
    return dataclasses.replace(theme, variables=variables)


def check_display_colours(config: Config, path: Path) -> None:
    """The colours the config names must be colours (Textual parses them, so the check lives
    in the view); raises :class:`ConfigError` naming the key and its line."""
    for name in ("up_color", "down_color"):
        value = getattr(config.display, name)
        if value is None:
            continue
        try:
            Color.parse(value)
        except ColorParseError:
            key = f"display.{name}"
            raise ConfigError(
                path,
                key,
                f"{value!r} is not a colour (use #rrggbb, rgb(r,g,b) or a name such as green)",
                config_key_line(path, key),
            ) from None
