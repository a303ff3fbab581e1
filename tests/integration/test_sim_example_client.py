"""The InsightSentry guide's own Python example (section 8), with only the URLs changed to the
simulator, runs and prints data.

The guide's copy lost its indentation in transit, so ``fixtures/insightsentry_example.py`` is the
same code re-indented; a test proves it equals the guide's text but for white space.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.simhelp import fast_settings
from tui.sim.server import SimulatorThread

GUIDE = Path(__file__).resolve().parents[3] / "shared" / "api" / "000_6c4c27b7e98efbd2.txt"
"""The vendor guide kept beside the repository."""
EXAMPLE_RAPIDAPI_KEY = "YOUR_API_KEY_HERE"
"""The placeholder key the example sends; the test registers it with the simulator."""


EXAMPLE = Path(__file__).parent.parent / "fixtures" / "insightsentry_example.py"
"""The guide's example, re-indented."""


def _guide_excerpt() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("# pip install requests")
    end = text.index("asyncio.run(run_with_retry())") + len("asyncio.run(run_with_retry())")
    return text[start:end]


def _example_source() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.skipif(not GUIDE.exists(), reason="shared/api/ is not beside this checkout")
def test_fixture_is_the_guide_code_but_for_white_space() -> None:
    assert "".join(_example_source().split()) == "".join(_guide_excerpt().split())


def test_guide_python_example_prints_quotes(tmp_path: Path) -> None:
    settings = fast_settings()
    settings.rapidapi_keys[EXAMPLE_RAPIDAPI_KEY] = "mega"
    thread = SimulatorThread(settings)
    urls = thread.start()
    try:
        source = _example_source()
        source = source.replace("https://insightsentry.p.rapidapi.com", urls.rest)
        source = source.replace("wss://realtime.insightsentry.com/live", urls.live)
        assert len(re.findall(r"127\.0\.0\.1", source)) == 2  # only the two URLs changed
        script = tmp_path / "example.py"
        script.write_text(source, encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 20
        seen: list[str] = []
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if "CME_MINI:ES1!" in line and "last_update" in line:
                break
        proc.kill()
        proc.wait()
        output = "".join(seen)
        assert "'api_key': 'ws-" in output  # the key rotation call printed its response
        assert "Connected to websocket" in output
        assert "'code': 'NASDAQ:AAPL'" in output and "CME_MINI:ES1!" in output
    finally:
        thread.stop()
