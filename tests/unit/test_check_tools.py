"""The check-tool pins: read from the test extra, compared with the installed ones, moved."""

import importlib.metadata

from tests.check_tools import PYPROJECT, pins, problems, upgrade

TEXT = """
[project]
name = "x"
[project.optional-dependencies]
test = ["mypy==2.4.1", "ruff==0.17.6", "requests>=2.31"]
"""


def test_pins_are_the_exact_requirements_only() -> None:
    assert pins(TEXT) == {"mypy": "2.4.1", "ruff": "0.17.6"}


def test_the_project_pins_every_check_tool() -> None:
    pinned = pins(PYPROJECT.read_text(encoding="utf-8"))
    for tool in ("ruff", "mypy", "import-linter", "pytest", "pytest-xdist", "pytest-asyncio"):
        assert tool in pinned


def test_problems_name_a_wrong_version_and_a_missing_tool() -> None:
    installed = importlib.metadata.version("pytest")
    assert problems({"pytest": installed}) == []
    wrong = problems({"pytest": "0.0.1", "no-such-tool-here": "1.0"})
    assert wrong == [
        f"pytest {installed} is installed, the pin is 0.0.1",
        "no-such-tool-here is not installed (pinned 1.0)",
    ]


def test_upgrade_moves_only_the_named_pins() -> None:
    moved = upgrade(TEXT, {"mypy": "2.5.0"})
    assert pins(moved) == {"mypy": "2.5.0", "ruff": "0.17.6"}
    assert '"requests>=2.31"' in moved
