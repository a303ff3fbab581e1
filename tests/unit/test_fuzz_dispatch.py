"""Property tests: random and mutated frames never make a dispatcher raise."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_protocol_news import STOCKNEWS_SAMPLE
from tui.protocol.live import QuoteUpdate, SeriesUpdate, dispatch_live
from tui.protocol.newsfeed import dispatch_newsfeed
from tui.protocol.stocknews import News, dispatch_stocknews

DISPATCHERS = (dispatch_live, dispatch_newsfeed, dispatch_stocknews)
"""Every endpoint's dispatcher."""

json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=300)
@given(st.binary() | st.text())
def test_random_frames_never_raise(frame: bytes | str) -> None:
    for dispatch in DISPATCHERS:
        dispatch(frame)


@settings(max_examples=300)
@given(json_values)
def test_random_json_never_raises(value: object) -> None:
    text = json.dumps(value)
    for dispatch in DISPATCHERS:
        dispatch(text)


@settings(max_examples=200)
@given(st.data())
def test_mutated_valid_frames_never_raise(data: st.DataObject) -> None:
    base = STOCKNEWS_SAMPLE.encode()
    index = data.draw(st.integers(0, len(base) - 1))
    byte = data.draw(st.integers(0, 255))
    mutated = base[:index] + bytes([byte]) + base[index + 1 :]
    for dispatch in DISPATCHERS:
        dispatch(mutated)


@settings(max_examples=100)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"time": st.floats(0, 2e9), "close": st.floats(0, 1e6), "volume": st.integers(0)}
        ),
        min_size=1,
    ),
    st.dictionaries(st.sampled_from(["foo", "bar", "zz"]), st.integers()),
)
def test_valid_frames_still_decode_with_unknown_keys(
    bars: list[dict[str, float]], extra: dict[str, int]
) -> None:
    series = dispatch_live(json.dumps({"code": "A:B", "series": bars, **extra}))
    assert isinstance(series, SeriesUpdate) and len(series.series) == len(bars)
    quote = dispatch_live(json.dumps({"data": [{"code": "A:B", **extra}], **extra}))
    assert isinstance(quote, QuoteUpdate)
    news = json.loads(STOCKNEWS_SAMPLE)
    news["data"].update(extra)
    assert isinstance(dispatch_stocknews(json.dumps(news)), News)
