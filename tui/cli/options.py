"""What the dashboard runs with: the command line and the config file, resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui.config import Config, LayoutName
from tui.secrets import Keys


@dataclass
class RunOptions:
    """Everything the dashboard needs from the command line and the config file."""

    config: Config
    config_path: Path
    keys: Keys
    demo: bool
    symbols: list[str] | None
    theme: str | None
    layout: LayoutName | None
    record: Path | None
    seed: int
    speed: float
    plan: str | None = None
    endpoint_flags: list[str] = field(default_factory=list)
    """``--live-url`` and the like as given (passed on to a hub this pane starts)."""
    hub_mode: str = "auto"
    """``off``, ``auto`` or ``require`` (``--hub``/``--no-hub`` over the config's)."""
