"""``marketpane portfolio import FILE.csv | list``: lots from a CSV file, all or nothing.

Every symbol is checked against the quotes endpoint (a symbol it has no quote for is
unknown) unless ``--no-check``; the file is written atomically only when every row is good.
The columns are documented in :mod:`tui.portfolio.csvio` and the README.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from tui import paths
from tui.config import ConfigError, load_config
from tui.portfolio.csvio import PortfolioImportError, import_lots
from tui.portfolio.model import PortfolioError, load_portfolio, portfolio_path, save_portfolio
from tui.protocol.text import clean_text
from tui.secrets import SecretsFileError, load_keys, mask_secrets


def _fail(message: str, code: int = 2) -> int:
    lines = [clean_text(line) for line in mask_secrets(message).splitlines()]
    sys.stderr.write("marketpane portfolio: " + "\n  ".join(lines) + "\n")
    return code


def portfolio_command(argv: Sequence[str]) -> int:
    """Entry point of ``marketpane portfolio``."""
    parser = argparse.ArgumentParser(prog="marketpane portfolio", description="Positions.")
    parser.add_argument("--config", metavar="PATH")
    parser.add_argument("--demo", action="store_true", help="check symbols on the simulator")
    sub = parser.add_subparsers(dest="action", required=True)
    add = sub.add_parser("import", help="add the lots of a CSV file (all or nothing)")
    add.add_argument("file")
    add.add_argument("--portfolio", default="main", help="for rows without a portfolio column")
    add.add_argument("--no-check", action="store_true", help="do not ask the server")
    sub.add_parser("list", help="portfolios and their lots")
    args = parser.parse_args(list(argv))
    config_file = paths.config_path(args.config)
    target = portfolio_path(config_file)
    try:
        config = load_config(config_file)[0]
        book = load_portfolio(target)
    except (ConfigError, PortfolioError) as exc:
        return _fail(str(exc))
    if args.action == "list":
        for portfolio in book.portfolios:
            print(f"{portfolio.name}: {len(portfolio.lots)} lots")
            for number, lot in enumerate(portfolio.lots, start=1):
                print(
                    f"  {number:>3}  {lot.date}  {lot.symbol:<20} {lot.quantity:>12} "
                    f"@ {lot.price} fees {lot.fees}"
                )
        if not book.portfolios:
            print(f"no portfolios yet ({target})")
        return 0
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read {args.file}: {exc}")
    known = None
    if not args.no_check:
        try:
            keys = load_keys(paths.secrets_path())
        except SecretsFileError as exc:
            return _fail(str(exc))
        demo = args.demo or not keys.has_insightsentry

        def known(codes: list[str]) -> set[str]:
            from tui.cli.printing import SnapshotError, rest_snapshot

            try:
                quotes = asyncio.run(rest_snapshot(config, keys, demo, codes))
            except SnapshotError as exc:
                raise PortfolioImportError([f"symbols could not be checked: {exc}"]) from None
            return {c for c in codes if c not in quotes}

    try:
        merged, count = import_lots(text, book, args.portfolio, known=known)
    except PortfolioImportError as exc:
        return _fail(f"{args.file}: {exc}", 1)
    try:
        save_portfolio(merged, target)
    except (OSError, PortfolioError) as exc:
        return _fail(f"could not save {target}: {exc}", 1)
    print(f"imported {count} lots into {target}")
    return 0
