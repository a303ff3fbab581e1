"""What the user wants subscribed, and what the live socket has sent of it.

One :class:`SubscriptionIntent` is owned by the engine and handed to the ``/live`` feed: the
session changes the desired set, the feed sends it (debounced, within the budget) and records
which version went out. Nothing else passes between them.
"""

from __future__ import annotations

import asyncio

import msgspec

from tui.protocol.live import Subscription

PENDING_TEXT = "subscription change pending"
"""Shown in the status bar from a change until it is sent."""


class SubscriptionIntent:
    """The desired set with a version, a change signal, and the version last sent."""

    def __init__(self) -> None:
        self.desired: list[Subscription] = []
        self.version = 0
        self.sent_version = -1
        """The version the live socket last sent (-1: nothing on this connection yet)."""
        self.changed = asyncio.Event()
        self.pending: str | None = None
        """Why a change has not gone out yet (shown on the status bar), or None."""

    @property
    def in_sync(self) -> bool:
        """Whether the socket has sent the current desired set."""
        return self.sent_version == self.version

    def adopt(self, subs: list[Subscription]) -> bool:
        """Make ``subs`` the desired set; True if it changed (the feed then sends it). The
        same set in another order is no change: a reorder spends no budget."""
        if subs == self.desired or _canonical(subs) == _canonical(self.desired):
            return False
        self.desired = list(subs)
        self.version += 1
        self.changed.set()
        self.pending = PENDING_TEXT
        return True

    def mark_sent(self, version: int) -> None:
        """The socket sent the set of ``version``."""
        self.sent_version = version
        self.pending = None

    def drop(self, code: str | None, *, series_only: bool) -> list[Subscription]:
        """Forget subscriptions the server rejected, without a resend (the server already
        dropped them): a socket in sync stays in sync; a pending change stays pending."""
        removed = [
            s
            for s in self.desired
            if s.code == code and (not series_only or s.type in (None, "series", "both"))
        ]
        if removed:
            was_in_sync = self.in_sync
            self.desired = [s for s in self.desired if s not in removed]
            self.version += 1
            if was_in_sync:
                self.sent_version = self.version
        return removed


def _canonical(subs: list[Subscription]) -> list[bytes]:
    """A subscription list with its order forgotten (the server treats it as a set)."""
    return sorted(msgspec.json.encode(s) for s in subs)
