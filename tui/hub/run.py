"""``marketpane hub serve``: run a hub in this process until stopped or idle."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path

from tui.config import Config
from tui.hub.owner import TAKEN_EXIT, HubTaken, unwritable
from tui.hub.place import account_id, place_for
from tui.hub.server import Hub, HubOptions
from tui.secrets import Keys
from tui.session.demo import paced_settings, start_demo, state_dir_for

log = logging.getLogger("marketpane.hub")


def serve_hub(
    config: Config,
    config_path: Path | None,
    keys: Keys,
    *,
    demo: bool,
    linger_seconds: float,
    seed: int = 7,
    speed: float = 1.0,
    record_path: Path | None = None,
) -> int:
    """Serve panes for this account (the demo: with the simulator in this process)."""
    account = account_id(config, keys, demo=demo)
    place = place_for(account)
    simulator, runtime, keys = start_demo(config, keys, demo=demo, seed=seed, speed=speed)
    options = HubOptions(
        config=config,
        config_path=config_path,
        keys=keys,
        place=place,
        runtime_config=runtime,
        demo=demo,
        linger_seconds=linger_seconds,
        state_dir=state_dir_for(demo),
        record_path=record_path,
        engine_settings=paced_settings(config.display),
    )
    log.info("hub for account %s on %s", account, place.socket)
    try:
        asyncio.run(_serve(options))
    except HubTaken as exc:
        sys.stderr.write(f"marketpane hub: {exc}\n")
        return TAKEN_EXIT
    except OSError as exc:
        sys.stderr.write(f"marketpane hub: cannot serve: {unwritable(exc, place.directory)}\n")
        return TAKEN_EXIT
    finally:
        if simulator is not None:
            simulator.stop()
    return 0


async def _serve(options: HubOptions) -> None:
    hub = Hub(options)
    gc.freeze()  # what start-up built lives as long as the hub: no full collection walks it
    await hub.serve()
