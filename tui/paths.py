"""Where marketpane keeps its files (platformdirs), with environment overrides, and how it
writes them: atomically (a sibling temp file, fsync, rename), so a failure at any point leaves
the old file untouched.

``MARKETPANE_CONFIG`` overrides the config file, ``MARKETPANE_STATE_DIR`` the state directory
(budget counter, stored WebSocket keys), ``MARKETPANE_SECRETS`` the secrets file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` atomically; the old content survives any failure."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically, creating it with ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
