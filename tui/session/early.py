"""A session that can start before its view exists: the launcher starts it, then imports
the view (Textual and the widgets, a fifth of a second or more) while its connections are
made, so the first frame can already show prices."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tui.session.values import SessionBatch


class StartsEarly:
    """:meth:`start` runs the session with no view; :meth:`run` hands the view what came
    meanwhile, then every batch after it. Subclasses give :meth:`_run` (run until closed,
    passing each batch to ``self.on_batch``) and :meth:`batch_done`."""

    on_batch: Callable[[SessionBatch], None] | None
    _started: asyncio.Task[None] | None = None
    _held: list[SessionBatch]

    def start(self) -> None:
        """Start running now; the batches wait until :meth:`run` takes them."""
        self._held = []
        self.on_batch = self._hold
        self._started = asyncio.get_running_loop().create_task(self._run(), name="session")

    def _hold(self, batch: SessionBatch) -> None:
        """Keep a batch for the view to come, and let the next come at once: the first quotes
        must not wait behind a first batch of statuses no view has drawn yet."""
        self._held.append(batch)
        self.batch_done()

    async def run(self, on_batch: Callable[[SessionBatch], None]) -> None:
        """Run until closed, handing each batch to ``on_batch`` (the next comes after
        :meth:`batch_done`). After :meth:`start`, the batches that waited go first, in
        order; cancelling this cancels the run."""
        self.on_batch = on_batch
        if self._started is None:
            await self._run()
            return
        held, self._held = self._held, []
        for batch in held:
            on_batch(batch)
        await self._started

    async def _run(self) -> None:
        raise NotImplementedError

    def batch_done(self) -> None:
        raise NotImplementedError
