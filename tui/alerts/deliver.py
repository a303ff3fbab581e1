"""Delivering alert firings: tmux, desktop, a command hook and a webhook, each on its own.

Every channel has its own queue and worker task, so a slow webhook never delays the tmux
message, and a failing channel is reported (``report``) and retried, never fatal. The notice
and the bell are the panes' to show: the engine sends them as a notice (see
:func:`pane_flags`).

The command hook runs an argument vector without a shell; the alert's fields reach it as
``MARKETPANE_ALERT_*`` environment variables and as ``{name}`` placeholders replaced inside
single arguments, so a symbol full of shell metacharacters is only ever text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec

from tui.alerts.model import AlertDelivery, Firing
from tui.protocol.text import clean_text

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

QUEUE_LIMIT = 100
"""Firings waiting per channel; past that the oldest is dropped (and that is reported)."""
TMUX_DISPLAY_MS = 6000
"""How long tmux shows an alert on its status line."""
BACKOFF_SECONDS = 1.0
"""The first retry's delay; each later one doubles it."""

Report = Callable[[str, str], None]
"""(level, text) for the user: a channel failed, or gave up."""


class ChannelError(Exception):
    """A channel could not deliver; the message says why, for the user."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def enabled_here(settings: AlertDelivery, firing: Firing, environ: dict[str, str]) -> list[str]:
    """The channels this process delivers ``firing`` by (tmux, desktop, command, webhook)."""
    wanted = set(firing.channels) if firing.channels is not None else None

    def on(name: str, setting: bool) -> bool:
        return setting and (wanted is None or name in wanted)

    out = []
    if on("tmux", settings.tmux) and environ.get("TMUX") and shutil.which("tmux"):
        out.append("tmux")
    if on("desktop", settings.desktop) and shutil.which("notify-send"):
        out.append("desktop")
    if on("command", bool(settings.command)):
        out.append("command")
    if on("webhook", bool(settings.webhook)):
        out.append("webhook")
    return out


def pane_flags(settings: AlertDelivery, firing: Firing) -> tuple[bool, bool, bool]:
    """(show a notice, ring the bell, send an OSC 777 desktop notification) for the panes;
    OSC 777 only where ``notify-send`` is missing."""
    wanted = set(firing.channels) if firing.channels is not None else None

    def on(name: str, setting: bool) -> bool:
        return setting and (wanted is None or name in wanted)

    osc = on("desktop", settings.desktop) and shutil.which("notify-send") is None
    return on("notice", settings.notice), on("bell", settings.bell), osc


def tmux_text(text: str) -> str:
    """``text`` for ``tmux display-message``: one clean line, with ``#`` doubled so tmux
    expands no format in it (``#(cmd)`` would run a command)."""
    return clean_text(text).replace("#", "##")


def hook_environment(firing: Firing, base: dict[str, str]) -> dict[str, str]:
    """``base`` plus ``MARKETPANE_ALERT_<FIELD>`` for every field of ``firing``."""
    env = dict(base)
    for name, value in firing.fields().items():
        env[f"MARKETPANE_ALERT_{name.upper()}"] = value
    return env


def hook_arguments(template: list[str], firing: Firing) -> list[str]:
    """The command's argument vector with ``{field}`` placeholders replaced (text only)."""
    fields = firing.fields()
    out = []
    for argument in template:
        for name, value in fields.items():
            argument = argument.replace("{" + name + "}", value)
        out.append(argument)
    return out


def webhook_body(firing: Firing) -> bytes:
    """The JSON a webhook receives."""
    fields = firing.fields()
    return msgspec.json.encode(
        {
            "id": firing.id,
            "symbol": firing.symbol,
            "rule": firing.rule,
            "text": firing.text,
            "time": fields["time"],
            "at": firing.at,
            "value": firing.value,
            "level": firing.level,
            "note": firing.note,
            "test": firing.test,
        }
    )


class Delivery:
    """One queue and worker per channel; :meth:`send` never waits."""

    def __init__(
        self,
        settings: AlertDelivery,
        report: Report,
        *,
        environ: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.report = report
        self.environ = dict(os.environ if environ is None else environ)
        self.queues: dict[str, asyncio.Queue[Firing]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.delivered: dict[str, int] = {}
        """Firings each channel delivered (for the tests and ``hub status``)."""
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._senders: dict[str, Callable[[Firing], Awaitable[None]]] = {
            "tmux": self._tmux,
            "desktop": self._desktop,
            "command": self._command,
            "webhook": self._webhook,
        }

    def send(self, firing: Firing) -> None:
        """Queue ``firing`` on every channel it goes to here (workers start on first use)."""
        for name in enabled_here(self.settings, firing, self.environ):
            queue = self.queues.get(name)
            if queue is None:
                queue = self.queues[name] = asyncio.Queue(QUEUE_LIMIT)
                task = asyncio.get_running_loop().create_task(
                    self._worker(name, queue), name=f"alert-{name}"
                )
                self.tasks.append(task)
            if queue.full():
                queue.get_nowait()
                self.report("warning", f"Alert channel {name} is behind: dropped its oldest alert.")
            queue.put_nowait(firing)

    async def _worker(self, name: str, queue: asyncio.Queue[Firing]) -> None:
        sender = self._senders[name]
        retries = self.settings.retries if name in ("command", "webhook") else 0
        while True:
            firing = await queue.get()
            for attempt in range(retries + 1):
                try:
                    await sender(firing)
                except ChannelError as exc:
                    if not exc.retry or attempt == retries:
                        self.report(
                            "warning",
                            f"Alert {firing.id} not delivered by {name}: {exc}"
                            + (f" (after {attempt + 1} tries)" if attempt else ""),
                        )
                        break
                    delay = BACKOFF_SECONDS * 2**attempt
                    self.report(
                        "warning",
                        f"Alert {firing.id} by {name} failed: {exc}; "
                        f"trying again in {delay:g} s ({attempt + 1} of {retries}).",
                    )
                    await asyncio.sleep(delay)
                except Exception as exc:  # a bug in one channel must not stop the others
                    log.exception("alert channel %s", name)
                    self.report("warning", f"Alert {firing.id} not delivered by {name}: {exc}")
                    break
                else:
                    self.delivered[name] = self.delivered.get(name, 0) + 1
                    break
            queue.task_done()

    async def _run(
        self, argv: list[str], timeout: float, env: dict[str, str] | None = None
    ) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=env if env is not None else self.environ,
                start_new_session=True,
            )
        except OSError as exc:
            raise ChannelError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise ChannelError(f"{argv[0]!r} did not finish within {timeout:g} s") from None
        if process.returncode != 0:
            said = clean_text(stderr.decode("utf-8", "replace").strip())[:200]
            raise ChannelError(
                f"{argv[0]!r} exited with status {process.returncode}"
                + (f": {said}" if said else "")
            )

    async def _tmux(self, firing: Firing) -> None:
        argv = ["tmux", "display-message", "-d", str(TMUX_DISPLAY_MS), tmux_text(firing.text)]
        await self._run(argv, 5.0)

    async def _desktop(self, firing: Firing) -> None:
        argv = ["notify-send", "-a", "marketpane", "marketpane alert", clean_text(firing.text)]
        await self._run(argv, 5.0)

    async def _command(self, firing: Firing) -> None:
        argv = hook_arguments(self.settings.command, firing)
        env = hook_environment(firing, self.environ)
        await self._run(argv, self.settings.command_timeout_seconds, env)

    async def _webhook(self, firing: Firing) -> None:
        import httpx  # on first use: it costs a tenth of a second at start

        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport)
        timeout = self.settings.webhook_timeout_seconds
        try:
            response = await self._http.post(
                self.settings.webhook,
                content=webhook_body(firing),
                headers={"content-type": "application/json", "user-agent": "marketpane"},
                timeout=timeout,
            )
        except httpx.TimeoutException:
            raise ChannelError(f"the webhook did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ChannelError(f"the webhook could not be reached ({type(exc).__name__})") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelError(f"the webhook answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ChannelError(f"the webhook refused it: HTTP {response.status_code}", retry=False)

    async def close(self) -> None:
        """Stop the workers (what is queued is dropped) and the HTTP client."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        self.queues.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def drain(self, timeout: float) -> None:
        """Wait until every queued firing was delivered or given up (at most ``timeout``)."""
        joins = [queue.join() for queue in self.queues.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*joins), timeout)
