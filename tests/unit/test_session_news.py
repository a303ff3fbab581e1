"""What a view is sent of the news: each form of a story once."""

from __future__ import annotations

from tests.enginehelp import StaticSession
from tui.config import Config
from tui.engine.store import MarketStore
from tui.secrets import Keys
from tui.session.session import SessionOptions


def test_a_story_sent_again_unchanged_is_not_a_second_line() -> None:
    """A view is sent each form of a story once: the same story again (a replay, a fleet
    snapshot beside the leader's messages) is dropped; a changed form still goes."""
    from tui.engine.status import Batch
    from tui.engine.stories import NewsItem
    from tui.session.values import SessionBatch

    session = StaticSession(
        SessionOptions(config=Config(), keys=Keys(), persist=False, demo=True), MarketStore(), []
    )
    sent: list[SessionBatch] = []
    story = NewsItem("k1", "Title", "", ["XOM"], "wire", 1.0, "newsfeed")
    rated = NewsItem("k1", "Title", "", ["XOM"], "wire", 1.0, "newsfeed", score=0.5)
    for news in ([story], [story], [rated], [story]):
        sent.append(session.deliver(Batch(news=news)))
    assert [b.news for b in sent] == [[story], [], [rated], []]
