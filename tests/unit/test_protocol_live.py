"""/live models against every example in the InsightSentry guide (shared/api/000_*.txt)."""

from __future__ import annotations

import json

import pytest

from tui.protocol.common import DecodeFailure, Pong, StatusEvent, Unrecognised
from tui.protocol.live import (
    Greeting,
    Heartbeat,
    LiveError,
    QuoteUpdate,
    SeriesUpdate,
    ServerMessage,
    Subscription,
    decode_subscription_message,
    dispatch_live,
    encode_subscription_message,
)


def test_greeting_section_1_connection_lifecycle() -> None:
    """Section 1: 'the server immediately sends a greeting message before you authenticate'."""
    event = dispatch_live('{"message": "Connecting...", "server": "us-east"}')
    assert event == Greeting(message="Connecting...", server="us-east")


def test_series_example_section_3() -> None:
    """Section 3, Series Data: the documented 1m bar example."""
    frame = """{"code": "NASDAQ:AAPL", "bar_end": 1733432399.0, "last_update": 1733432399820,
      "bar_type": "1m", "series": [{"time": 1733432340.0, "open": 242.89, "high": 243.09,
      "low": 242.82, "close": 243.08, "volume": 533779.0}]}"""
    event = dispatch_live(frame)
    assert isinstance(event, SeriesUpdate)
    assert event.code == "NASDAQ:AAPL" and event.bar_type == "1m"
    assert event.bar_end == 1733432399.0 and event.last_update == 1733432399820
    bar = event.series[0]
    assert (bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        1733432340.0,
        242.89,
        243.09,
        242.82,
        243.08,
        533779.0,
    )


def test_tick_rows_carry_only_some_fields() -> None:
    """Tick rows may omit open/high/low; they decode with None for what is absent."""
    event = dispatch_live('{"code":"X:Y","series":[{"time":1.5,"close":2.0,"volume":3}]}')
    assert isinstance(event, SeriesUpdate)
    assert event.series[0].open is None and event.series[0].close == 2.0


def test_quote_example_section_3() -> None:
    """Section 3, Quote Data: every documented field of the example decodes."""
    frame = """{"last_update": 1757061265540, "total_items": 1, "data": [{
      "code": "NASDAQ:AAPL", "status": "PRE", "lp_time": 1757061117.0, "volume": 47549429.0,
      "last_price": 239.42, "change_percent": -0.15, "change": -0.36, "ask": 239.47,
      "bid": 239.42, "ask_size": 2.0, "bid_size": 1.0, "prev_close_price": 238.47,
      "open_price": 238.45, "low_price": 236.74, "high_price": 239.8999,
      "market_cap": 3558428648118.0, "currency_code": "USD", "delay_seconds": 0}]}"""
    event = dispatch_live(frame)
    assert isinstance(event, QuoteUpdate)
    assert event.total_items == 1 and event.last_update == 1757061265540
    q = event.data[0]
    assert q.code == "NASDAQ:AAPL" and q.status == "PRE" and q.delay_seconds == 0
    assert q.high_price == 239.8999 and q.market_cap == 3558428648118.0
    assert q.bid_size == 1.0 and q.currency_code == "USD"


@pytest.mark.parametrize("delay", [0, 900, -1])
def test_delay_seconds_values(delay: int) -> None:
    """Section 3, Understanding delay_seconds: 0 real-time, 900 delayed, -1 end of day."""
    event = dispatch_live(json.dumps({"data": [{"code": "A:B", "delay_seconds": delay}]}))
    assert isinstance(event, QuoteUpdate) and event.data[0].delay_seconds == delay


def test_sparse_quote_update() -> None:
    """protocol-notes: quote updates can be sparse; absent fields are None, not zero."""
    event = dispatch_live('{"data":[{"code":"A:B","last_price":1.5}]}')
    assert isinstance(event, QuoteUpdate)
    assert event.data[0].last_price == 1.5 and event.data[0].bid is None


def test_heartbeat_section_5() -> None:
    """Section 5, Server Heartbeat: {"server_time": 1741397070281}."""
    assert dispatch_live('{"server_time": 1741397070281}') == Heartbeat(1741397070281)


def test_pong_text_frame_section_5() -> None:
    """Section 5: 'Filter out pong messages in your data handler'."""
    assert dispatch_live("pong") == Pong()


def test_plain_message_error_section_6() -> None:
    """Section 6: 'Simple validation errors use a single message field'."""
    event = dispatch_live('{"message": "api_key field is missing."}')
    assert event == ServerMessage("api_key field is missing.") and event.is_error
    assert not ServerMessage("Connected to us-east").is_error


def test_typed_error_section_6() -> None:
    """Section 6: the typed invalid_bar_interval example."""
    frame = """{"error": "invalid_bar_interval", "message": "Invalid bar_interval for second
      interval. Allowed values: 1, 5, 10, 15, 30, 45", "symbol": "NASDAQ:AAPL"}"""
    event = dispatch_live(frame.replace("\n", " "))
    assert isinstance(event, LiveError)
    assert event.error == "invalid_bar_interval" and event.symbol == "NASDAQ:AAPL"


def test_typed_error_extra_fields_protocol_notes() -> None:
    """protocol-notes: action, retryable, delay_seconds, retry_after_seconds, details."""
    frame = json.dumps(
        {
            "error": "server_busy",
            "message": "busy",
            "action": "wait_and_retry",
            "retryable": True,
            "delay_seconds": 3,
            "retry_after_seconds": 5,
            "details": {"current": 2, "allowed": 1},
            "reference_id": "r1",
        }
    )
    event = dispatch_live(frame)
    assert isinstance(event, LiveError)
    assert event.server_delay == 5 and event.retryable and event.action == "wait_and_retry"
    assert event.details is not None and '"allowed":1' in event.details


def test_status_event_and_unknown_fields() -> None:
    """protocol-notes: event frames are status, not data; unknown keys never fatal."""
    assert dispatch_live('{"event":"subscription_status","status":"active","x":1}') == (
        StatusEvent("subscription_status", "active")
    )
    assert isinstance(dispatch_live('{"something":"else"}'), Unrecognised)
    assert isinstance(dispatch_live('{"server_time": 1, "new_field": [1,2]}'), Heartbeat)


@pytest.mark.parametrize("frame", ["{", b"\xff\xfe", '{"data": 5}', "[]", "", '{"series":"x"}'])
def test_bad_frames_are_decode_failures(frame: str | bytes) -> None:
    """A malformed frame is a typed failure, never an exception."""
    assert isinstance(dispatch_live(frame), DecodeFailure | Unrecognised)


GUIDE_SUBSCRIPTION_EXAMPLES = [
    # Section 2, Example Subscription Message
    """{"api_key": "<k>", "subscriptions": [
      {"code": "NASDAQ:AAPL", "type": "series", "bar_type": "minute", "bar_interval": 1,
       "max_dp": 100}, {"code": "NASDAQ:TSLA", "type": "quote"}]}""",
    # Section 4, Extended Market Hours
    """{"api_key": "<k>", "subscriptions": [{"code": "NASDAQ:AAPL", "bar_type": "minute",
      "bar_interval": 1, "extended": false}]}""",
    # Section 4, Split Adjustment
    """{"api_key": "<k>", "subscriptions": [{"code": "NASDAQ:AAPL", "bar_type": "day",
      "bar_interval": 1, "split": false}]}""",
    # Section 4, Dividend Adjustment
    """{"api_key": "<k>", "subscriptions": [{"code": "NASDAQ:AAPL", "bar_type": "day",
      "bar_interval": 1, "dadj": true}]}""",
    # Section 4, Back-Adjustment
    """{"api_key": "<k>", "subscriptions": [{"code": "CME_MINI:ES1!", "bar_type": "day",
      "bar_interval": 1, "badj": false}]}""",
    # Section 4, Settlement Price
    """{"api_key": "<k>", "subscriptions": [{"code": "CME_MINI:ES1!", "bar_type": "day",
      "bar_interval": 1, "settlement": false}]}""",
    # Section 4, Initial Data Points
    """{"api_key": "<k>", "subscriptions": [{"code": "NASDAQ:AAPL", "bar_type": "minute",
      "bar_interval": 1, "max_dp": 5000}]}""",
    # Section 8, Code Examples (quote subscriptions)
    """{"api_key": "<k>", "subscriptions": [{"code": "NASDAQ:AAPL", "type": "quote"},
      {"code": "CME_MINI:ES1!", "type": "quote"}]}""",
]


@pytest.mark.parametrize("example", GUIDE_SUBSCRIPTION_EXAMPLES)
def test_outbound_round_trip_matches_guide(example: str) -> None:
    """Outbound messages round-trip the guide's examples, modulo key order."""
    message = decode_subscription_message(example)
    text = encode_subscription_message(message.api_key, message.subscriptions)
    assert json.loads(text) == json.loads(example)


def test_defaults_are_omitted_and_dp_alias() -> None:
    """Unset parameters are not sent; history_field='dp' renames max_dp (protocol-notes)."""
    text = encode_subscription_message("k", [Subscription(code="A:B", max_dp=5)])
    assert json.loads(text) == {"api_key": "k", "subscriptions": [{"code": "A:B", "max_dp": 5}]}
    text = encode_subscription_message(
        "k", [Subscription(code="A:B", max_dp=5)], history_field="dp"
    )
    assert json.loads(text)["subscriptions"] == [{"code": "A:B", "dp": 5}]
