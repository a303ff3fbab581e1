"""The parts without a broker: fencing arithmetic, the leader's change tap, what a
follower merges, the budget carried between leaders, the broker settings and secrets."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from tui.config import Config, ConfigError, HubSettings, load_config
from tui.engine.budget import SubscriptionBudget
from tui.engine.engine import Engine
from tui.engine.status import FeedState, FeedStatus, Notice
from tui.engine.store import MarketStore, StoreTap
from tui.engine.stories import NewsItem
from tui.fleet.broker import BrokerSetupError, connect_options, shown_url
from tui.fleet.node import FleetNode
from tui.fleet.nodebase import CLOSE_SECONDS, Role, fence_after, renew_every
from tui.fleet.wire import Events, LeaderState, Row, SeriesRows, encode
from tui.protocol.live import Bar, Quote, SeriesUpdate
from tui.secrets import MASK, Keys, Secret, load_keys, mask_secrets


@pytest.mark.parametrize("lease", [4.0, 5.0, 10.0, 30.0, 120.0])
def test_a_fenced_leader_has_closed_before_its_lease_can_expire(lease: float) -> None:
    """Fencing starts ``fence_after`` seconds after the last successful renewal was sent;
    with the close timeout and the watch's 0.1 s step the sockets are gone before the lease
    (which the broker counts from when the renewal arrived, later still) expires."""
    closed_by = fence_after(lease) + CLOSE_SECONDS + 0.1
    assert closed_by < lease - 0.5
    assert renew_every(lease) * 4 == pytest.approx(fence_after(lease))  # four tries first


def test_the_tap_keeps_what_changed_apart_from_the_batches() -> None:
    store = MarketStore()
    store.tap = StoreTap()
    now = time.time()
    store.apply_quote(Quote(code="X:A", last_price=1.0), None, now)
    store.take_changes()  # the view's batch empties its own sets, not the tap
    store.apply_quote(Quote(code="X:B", last_price=2.0), None, now)
    bars = [Bar(time=60.0 * n, close=1.0) for n in range(3)]
    store.apply_series(SeriesUpdate("X:A", "1m", None, None, bars), first=True, now=now)
    store.apply_series(
        SeriesUpdate("X:A", "1m", None, None, [Bar(time=180.0, close=2.0)]), first=False, now=now
    )
    item = NewsItem("k", "t", "s", ["A"], "src", now, "newsfeed")
    store.add_news(item)
    quotes, series, news = store.tap.take()
    assert quotes == {"X:A", "X:B"}
    assert series == {"X:A": (True, 1)}
    assert news == [item]
    assert store.tap.take() == (set(), {}, [])


def test_a_follower_merges_rows_keeping_when_the_leader_received_them() -> None:
    store = MarketStore()
    old = time.time() - 30
    store.merge_row("X:A", {"last_price": 10.0, "volume": 5.0}, old, 123.0)
    row = store.quotes["X:A"]
    assert row.updated_at == old  # a snapshot does not make an old quote look new
    assert row.values["last_price"] == 10.0 and row.server_ms == 123.0
    store.merge_row("X:A", {"last_price": 11.0, "future_field": 1}, time.time() + 60, None)
    assert row.values["last_price"] == 11.0 and "future_field" not in row.values
    assert row.updated_at <= time.time()  # another host's clock ahead: clamped to now
    assert row.direction == 1


def test_the_budget_carried_over_is_never_counted_twice(tmp_path: Path) -> None:
    now = 1_000_000.0
    budget = SubscriptionBudget(tmp_path / "b.json", clock=lambda: now)
    budget.record()
    stamps = [now - 10, now - 5, now]
    assert budget.adopt(stamps) == 2
    assert budget.used() == 3
    assert budget.adopt(stamps) == 0
    again = SubscriptionBudget(tmp_path / "b.json", clock=lambda: now)
    assert again.used() == 3  # saved as well


def test_fleet_values_round_trip_as_messagepack() -> None:
    status = FeedStatus("live", FeedState.LIVE, rate=12.5, latency_ms=40.0)
    events = Events(
        "h",
        3,
        7,
        1.0,
        rows=[Row("X:A", {"last_price": 1.5, "status": "REG"}, 2.0, None)],
        series=[SeriesRows("X:A", "1m", False, True, [Bar(time=60.0, close=1.0)])],
        news=[NewsItem("k", "t", "s", ["A"], "src", 1.0, "newsfeed", score=0.5)],
    )
    assert msgspec.msgpack.decode(encode(events), type=Events) == events
    state = LeaderState(
        "h", "alpha", 1.0, 3, 2.0, [status], None, {"X:B": "why"}, {}, "budget", None, [], [], 3.0
    )
    assert msgspec.msgpack.decode(encode(state), type=LeaderState) == state


def test_the_broker_url_is_shown_without_credentials() -> None:
    assert shown_url("nats://user:pa55word@broker.example:4222") == "nats://broker.example:4222"
    assert shown_url("tls://tok3n@10.0.0.1") == "tls://10.0.0.1"
    connect_options(HubSettings(broker="nats://fleetuser:pa55word-9@b:4222"), Keys(), "hub")
    assert mask_secrets("auth pa55word-9 for fleetuser") == f"auth {MASK} for {MASK}"


def test_connect_options_take_the_secrets_and_check_files(tmp_path: Path) -> None:
    keys = Keys(nats_token=Secret("fleet-token-0001"))
    options = connect_options(HubSettings(broker="nats://b:4222"), keys, "hub")
    assert options["token"] == "fleet-token-0001" and options["max_reconnect_attempts"] == -1
    with pytest.raises(BrokerSetupError, match="is not a file"):
        connect_options(
            HubSettings(broker="nats://b:4222", broker_creds=str(tmp_path / "none.creds")),
            keys,
            "hub",
        )


def test_the_broker_token_is_a_secret(tmp_path: Path) -> None:
    keys = load_keys(tmp_path / "none.toml", {"MARKETPANE_NATS_TOKEN": "tok-zz-991"})
    assert keys.nats_token is not None and "tok-zz-991" not in repr(keys)
    assert mask_secrets("auth tok-zz-991 failed") == f"auth {MASK} failed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[hub]\nbroker = "http://x"\n', "expected a NATS URL"),
        ("[hub]\nlease_seconds = 1\n", "hub.lease_seconds"),
        ('[hub]\nbroker_tls_key = "k.pem"\n', "needs hub.broker_tls_cert"),
    ],
)
def test_bad_broker_settings_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


class _Msg:
    def __init__(self, data: bytes) -> None:
        self.data = data


def _node() -> FleetNode:
    engine = Engine(Config(), Keys(), upstream=False)
    return FleetNode(engine, HubSettings(broker="nats://b:4222"), Keys(), "acct", panes=lambda: 0)


async def test_the_leader_sends_what_changed_and_a_new_price_with_its_change() -> None:
    node = _node()
    store = node.engine.store
    now = time.time()
    quote = Quote(code="X:A", last_price=10.0, change=1.0, change_percent=11.1, volume=5.0)
    store.apply_quote(quote, None, now)
    assert node._changed_row("X:A").values == {
        "last_price": 10.0,
        "change": 1.0,
        "change_percent": 11.1,
        "volume": 5.0,
    }
    store.apply_quote(Quote(code="X:A", volume=6.0), None, now)
    assert node._changed_row("X:A").values == {"volume": 6.0}
    store.apply_quote(Quote(code="X:A", last_price=10.7), None, now)
    store.apply_quote(Quote(code="X:A", last_price=10.5, change=1.0), None, now)
    row = node._changed_row("X:A")
    assert row.direction == -1  # it fell last, though the message's net move is up
    follower = _node()
    follower.engine.store.merge_row("X:A", {"last_price": 10.0, "change_percent": 11.1}, now, None)
    assert row.values == {
        "last_price": 10.5,
        "change": 1.0,  # unchanged since the last message, but tied to the price
    }
    assert row.removed == ["change_percent"]  # a price with no close dropped it: so must a
    follower._apply([row], [], [])  # follower, never show the old one against the new price
    shown = follower.engine.store.quotes["X:A"]
    assert shown.direction == -1  # as the leader shows it (the message's net move is up)
    assert "change_percent" not in shown.values and shown.values["last_price"] == 10.5


async def test_a_follower_merges_sparse_rows_and_asks_again_after_a_gap() -> None:
    node = _node()
    node.role = Role.FOLLOWER
    asked: list[int] = []
    node._ask_snapshot = lambda: asked.append(node.seq)  # type: ignore[method-assign]

    def events(seq: int, values: dict[str, object]) -> _Msg:
        return _Msg(encode(Events("lead", 5, seq, 1.0, rows=[Row("X:A", values, 1.0, None)])))

    await node._on_events(events(1, {"last_price": 1.0, "volume": 3.0}))  # type: ignore[arg-type]
    assert asked == [1]  # a new epoch: fill in from a snapshot
    node._resync = False  # (the snapshot came)
    await node._on_events(events(2, {"volume": 4.0}))  # type: ignore[arg-type]
    assert asked == [1]
    assert node.engine.store.quotes["X:A"].values == {"last_price": 1.0, "volume": 4.0}
    await node._on_events(events(4, {"volume": 5.0}))  # type: ignore[arg-type]
    assert asked == [1, 4]  # message 3 was missed
    node.role = Role.LEADER
    await node._on_events(events(5, {"volume": 9.0}))  # type: ignore[arg-type]
    assert node.engine.store.quotes["X:A"].values["volume"] == 5.0  # its own: ignored


def test_a_late_follower_takes_the_leaders_trend_but_never_a_shorter_one() -> None:
    store = MarketStore()
    now = time.time()
    store.apply_quote(Quote(code="X:A", last_price=5.0), None, now)
    minute = int(now // 60)
    store.adopt_trend("X:A", [1.0, 2.0, 3.0, 5.0], minute)
    assert list(store.quotes["X:A"].spark) == [1.0, 2.0, 3.0, 5.0]
    store.adopt_trend("X:A", [4.0, 5.0], minute)  # shorter: kept what it has
    store.adopt_trend("X:A", [9.0] * 10, minute - 1)  # older: kept
    assert list(store.quotes["X:A"].spark) == [1.0, 2.0, 3.0, 5.0]


async def test_a_follower_shows_the_leaders_upstream_notices_once() -> None:
    node = _node()
    node.role = Role.FOLLOWER
    notice = Notice("warning", "The server says your plan allows 1 symbol subscription", 5.0)

    def state(seq: float) -> _Msg:
        return _Msg(
            encode(
                LeaderState(
                    "lead",
                    "alpha",
                    1.0,
                    3,
                    2.0,
                    [],
                    None,
                    {},
                    {},
                    "b",
                    None,
                    [],
                    [],
                    seq,
                    notices=[notice],
                )
            )
        )

    await node._on_state(state(1.0))  # type: ignore[arg-type]
    await node._on_state(state(2.0))  # type: ignore[arg-type]
    texts = [n.text for n in node.engine.notice_log]
    assert texts.count(notice.text) == 1
    assert node.engine.via == "leader on alpha"
