"""Where marketpane keeps its files (platformdirs), with environment overrides.

``MARKETPANE_CONFIG`` overrides the config file, ``MARKETPANE_STATE_DIR`` the state directory
(budget counter, stored WebSocket keys), ``MARKETPANE_SECRETS`` the secrets file.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "marketpane"
"""Directory name under the platform's config/state roots."""


def config_dir() -> Path:
    """The user's config directory."""
    return Path(platformdirs.user_config_dir(APP_NAME))


def config_path(override: str | None = None) -> Path:
    """The config file: ``--config``, else ``MARKETPANE_CONFIG``, else the platform default."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get("MARKETPANE_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_dir() / "config.toml"


def secrets_path() -> Path:
    """The secrets file (0600 inside a 0700 directory)."""
    env = os.environ.get("MARKETPANE_SECRETS")
    if env:
        return Path(env).expanduser()
    return config_dir() / "secrets" / "secrets.toml"


def state_dir() -> Path:
    """Directory for state the app writes: budget counter, RapidAPI WebSocket key."""
    env = os.environ.get("MARKETPANE_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_state_dir(APP_NAME))


def user_themes_dir() -> Path:
    """User theme files live here beside the shipped ones."""
    return config_dir() / "themes"
