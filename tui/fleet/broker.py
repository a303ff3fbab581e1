"""Connecting to the fleet's NATS server: the URL shown without credentials, and the
connection options from ``[hub]`` and the secrets (token, nkey seed, ``.creds``, TLS)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.config import HubSettings
from tui.secrets import Keys, register_secret


class BrokerSetupError(Exception):
    """The broker settings cannot be used (a missing file); the text says which."""


def shown_url(url: str) -> str:
    """``nats://host:4222`` with any ``user:password@`` left out (for screens and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def register_url_credentials(url: str) -> None:
    """A ``user:password@`` or ``token@`` in the broker URL is a secret like any key: masked
    in every log line and message from now on."""
    parts = urlsplit(url)
    for value in (parts.username, parts.password):
        if value:
            register_secret(value)


def connect_options(settings: HubSettings, keys: Keys, name: str) -> dict[str, Any]:
    """Keyword arguments for ``nats.connect``: reconnect for ever, quickly, quietly."""
    if settings.broker is None:
        raise BrokerSetupError("hub.broker is not set")
    register_url_credentials(settings.broker)
    options: dict[str, Any] = {
        "servers": [settings.broker],
        "name": name,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        "ping_interval": 5,
        "max_outstanding_pings": 2,
    }
    if keys.nats_token is not None:
        options["token"] = keys.nats_token.reveal()
    if keys.nats_nkey_seed is not None:
        options["nkeys_seed_str"] = keys.nats_nkey_seed.reveal()
    if settings.broker_creds:
        creds = Path(settings.broker_creds).expanduser()
        if not creds.is_file():
            raise BrokerSetupError(f"hub.broker_creds: {creds} is not a file")
        options["user_credentials"] = str(creds)
    if settings.broker.startswith("tls://") or settings.broker_tls_ca:
        options["tls"] = _tls_context(settings)
    return options


def _tls_context(settings: HubSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    try:
        if settings.broker_tls_ca:
            context.load_verify_locations(cafile=str(Path(settings.broker_tls_ca).expanduser()))
        if settings.broker_tls_cert:
            context.load_cert_chain(
                str(Path(settings.broker_tls_cert).expanduser()),
                str(Path(settings.broker_tls_key).expanduser())
                if settings.broker_tls_key
                else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise BrokerSetupError(f"hub.broker_tls: cannot load ({exc})") from None
    return context
