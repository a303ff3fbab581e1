"""The check tools, pinned: verify the installed ones match the pins, or move the pins on purpose.

The test extra in ``pyproject.toml`` pins every check tool (the linters, the type checker, the
import contracts, pytest and its plugins) to one exact version, so a release elsewhere never
turns a clean clone red. ``python -m tests.check_tools`` prints the versions in use and exits 1
with one line when a tool is missing or not its pinned version (``.ci/run`` runs it first).
``python -m tests.check_tools --upgrade`` rewrites the pins to the newest releases the package
index serves and reinstalls the extra; run ``make check`` after it and commit the new pins with
whatever fixes the new versions ask for.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import pathlib
import re
import subprocess
import sys
import tomllib

PYPROJECT = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[^;\s]+)$")


def pins(text: str) -> dict[str, str]:
    """The exact pins (``name==version``) of the test extra in a pyproject text."""
    extra = tomllib.loads(text)["project"]["optional-dependencies"]["test"]
    found: dict[str, str] = {}
    for requirement in extra:
        match = _PIN.match(requirement.strip())
        if match:
            found[match["name"]] = match["version"]
    return found


def problems(wanted: dict[str, str]) -> list[str]:
    """One line per pinned tool that is missing or at another version."""
    lines: list[str] = []
    for name, version in wanted.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{name} is not installed (pinned {version})")
            continue
        if installed != version:
            lines.append(f"{name} {installed} is installed, the pin is {version}")
    return lines


def latest(name: str) -> str:
    """The newest release of a package the index serves, as pip reports it."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", name, "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return str(json.loads(out)["latest"])


def upgrade(text: str, newest: dict[str, str]) -> str:
    """The pyproject text with each pin moved to its newest version."""
    for name, version in newest.items():
        text = re.sub(rf'"{re.escape(name)}==[^"]+"', f'"{name}=={version}"', text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.check_tools", description=__doc__)
    parser.add_argument(
        "--upgrade", action="store_true", help="move every pin to the newest release"
    )
    args = parser.parse_args(argv)
    text = PYPROJECT.read_text(encoding="utf-8")
    wanted = pins(text)
    if args.upgrade:
        newest = {name: latest(name) for name in wanted}
        for name, version in newest.items():
            mark = "" if version == wanted[name] else f" (was {wanted[name]})"
            print(f"{name}=={version}{mark}")
        PYPROJECT.write_text(upgrade(text, newest), encoding="utf-8")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "-e", ".[test]"],
            cwd=PYPROJECT.parent,
            check=True,
        )
        print("pins moved: run `make check`, fix what it finds, commit pyproject.toml with it")
        return 0
    print("check tools: " + ", ".join(f"{name} {version}" for name, version in wanted.items()))
    wrong = problems(wanted)
    if wrong:
        print(
            f"check tools not as pinned: {'; '.join(wrong)}; run pip install -e '.[test]'",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
