"""The ``marketpane`` command line (argparse).

``marketpane`` runs the dashboard; ``marketpane config path|check|set-key``, ``marketpane sim``
and ``marketpane replay`` are subcommands. Bad flags and bad config exit 2 with one clear line.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from tui import __version__, paths
from tui.cli.options import RunOptions
from tui.config import (
    PLAN_PRESETS,
    Config,
    ConfigError,
    load_config,
    preset_plan,
)
from tui.protocol.rules import SubscriptionRuleError, validate_symbol_code
from tui.protocol.text import clean_text
from tui.secrets import (
    ENV_NAMES,
    SecretsFileError,
    install_log_masking,
    load_keys,
    mask_secrets,
    save_secret,
)

EXIT_USAGE = 2
"""Exit status for bad flags and bad config."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _add_endpoint_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that point the app at any server."""
    parser.add_argument("--live-url", help="InsightSentry /live WebSocket URL")
    parser.add_argument("--newsfeed-url", help="InsightSentry /newsfeed WebSocket URL")
    parser.add_argument("--stocknews-url", help="StockNews.live /ws WebSocket URL")
    parser.add_argument("--rest-url", help="InsightSentry REST base URL")


def build_run_parser() -> argparse.ArgumentParser:
    """The parser for the dashboard itself."""
    parser = _Parser(
        prog="marketpane",
        description="Live market data and financial news in your terminal. "
        "Subcommands: config {path,check,set-key}, sim, replay, hub {serve,status,stop}, "
        "alert {add,list,rm,test,pause,resume}, portfolio {import,list}, print.",
    )
    parser.add_argument("--version", action="version", version=f"marketpane {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (or $MARKETPANE_CONFIG)")
    parser.add_argument("--symbols", metavar="A,B", help="watch these symbols instead")
    parser.add_argument("--demo", action="store_true", help="use the embedded simulator")
    parser.add_argument("--theme", help="theme name")
    parser.add_argument("--layout", choices=["auto", "wide", "medium", "compact"])
    parser.add_argument("--record", metavar="FILE", help="record inbound frames as JSON lines")
    parser.add_argument(
        "--plan",
        choices=sorted(PLAN_PRESETS),
        help="the account's plan (limits); default: the config's plan (pro)",
    )
    hub = parser.add_mutually_exclusive_group()
    hub.add_argument(
        "--hub", action="store_true", help="share one upstream with other panes (a hub)"
    )
    hub.add_argument("--no-hub", action="store_true", help="run everything in this process")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (demo mode)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulator speed (demo mode)")
    parser.add_argument("--log", metavar="FILE", help="write a log (keys masked)")
    parser.add_argument("--debug", action="store_true", help="log at debug level")
    _add_endpoint_flags(parser)
    return parser


def _fail(message: str) -> NoReturn:
    """Print one masked line and exit 2."""
    sys.stderr.write(f"marketpane: error: {clean_text(mask_secrets(message))}\n")
    raise SystemExit(EXIT_USAGE)


def _load(config_flag: str | None, *, colours: bool = True) -> tuple[Config, Path, bool]:
    """Load the config (and check the colours it names) or exit 2 with its error line.
    Textual, which parses colours, is imported only when the config names one (the dashboard
    starts connecting before it loads the view) and never with ``colours=False`` (the hub,
    which draws nothing: the colours are left to the panes)."""
    path = paths.config_path(config_flag)
    try:
        config, existed = load_config(path)
        if colours and (config.display.up_color or config.display.down_color):
            from tui.ui.themes import check_display_colours  # the view parses colours

            check_display_colours(config, path)
    except ConfigError as exc:
        _fail(str(exc))
    return config, path, existed


def _check_theme(name: str, flag: str) -> None:
    """Exit 2 unless ``name`` is a shipped or user theme."""
    from tui.ui.themes import load_themes, shipped_themes_dir

    names = sorted(
        t.name for t in load_themes(shipped_themes_dir(), paths.user_themes_dir()).themes
    )
    if name not in names:
        _fail(f"{flag}: no theme {name!r} (themes: {', '.join(names)})")


def _check_output_path(flag: str, value: str) -> Path:
    """A file the app will write (``--record``, ``--log``): its folder must exist (marketpane
    creates folders only inside its own directories); exit 2 before the UI starts if not."""
    path = Path(value).expanduser()
    if path.is_dir():
        _fail(f"{flag}: {path} is a directory; give a file name")
    if not path.parent.is_dir():
        _fail(f"{flag}: folder {path.parent} does not exist; create it or choose another path")
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        _fail(f"{flag}: cannot write {path}: {exc.strerror}")
    return path


ENDPOINT_FLAGS = ("live_url", "newsfeed_url", "stocknews_url", "rest_url")
"""Flags that point the app at any server (a pane passes them on to the hub it starts)."""


def _apply_endpoint_flags(args: argparse.Namespace, config: Config) -> list[str]:
    """Set the endpoint flags given on ``config``; returns them as arguments again."""
    given: list[str] = []
    for flag in ENDPOINT_FLAGS:
        value = getattr(args, flag)
        if value:
            if not value.startswith(("ws://", "wss://", "http://", "https://")):
                _fail(f"--{flag.replace('_', '-')}: {value!r} is not a ws(s):// or http(s):// URL")
            setattr(config.endpoints, flag, value)
            given += [f"--{flag.replace('_', '-')}", value]
    return given


def parse_run_options(argv: Sequence[str]) -> RunOptions:
    """Parse dashboard flags and load config and keys; exits 2 on any problem."""
    args = build_run_parser().parse_args(list(argv))
    config, path, _ = _load(args.config)
    endpoint_flags = _apply_endpoint_flags(args, config)
    if args.plan:
        config.plan = preset_plan(args.plan)
    symbols = None
    if args.symbols:
        symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        for code in symbols:
            try:
                validate_symbol_code(code)
            except SubscriptionRuleError as exc:
                _fail(f"--symbols: {exc.problem}")
    try:
        keys = load_keys(paths.secrets_path())
    except SecretsFileError as exc:
        _fail(str(exc))
    if args.speed <= 0:
        _fail("--speed must be positive")
    record = _check_output_path("--record", args.record) if args.record else None
    log = _check_output_path("--log", args.log) if args.log else None
    if args.theme:
        _check_theme(args.theme, "--theme")
    if args.log or args.debug:
        configure_logging(log, debug=args.debug)
    return RunOptions(
        config=config,
        config_path=path,
        keys=keys,
        demo=args.demo or not keys.has_insightsentry,
        symbols=symbols,
        theme=args.theme,
        layout=args.layout,
        record=record,
        seed=args.seed,
        speed=args.speed,
        plan=args.plan,
        endpoint_flags=endpoint_flags,
        hub_mode="off" if args.no_hub else ("auto" if args.hub else config.hub.mode),
    )


def configure_logging(path: Path | None, *, debug: bool) -> None:
    """Log to ``path`` (default: ``marketpane.log`` in the state directory), keys masked."""
    target = path or paths.state_dir() / "marketpane.log"
    try:
        if path is None:  # only marketpane's own state directory is ever created
            target.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write the log {target}: {exc.strerror or exc} (set --log FILE)")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    install_log_masking(root)


def _config_command(argv: Sequence[str]) -> int:
    """``marketpane config path|check|set-key``."""
    parser = _Parser(prog="marketpane config", description="Inspect the configuration.")
    parser.add_argument("--config", metavar="PATH")
    sub = parser.add_subparsers(dest="action", required=True)
    for name, text in (
        ("path", "print the config, secrets and state paths"),
        ("check", "validate the config and secrets files"),
    ):  # --config is accepted before or after the action
        sub.add_parser(name, help=text).add_argument(
            "--config", metavar="PATH", dest="config_after", default=None
        )
    set_key = sub.add_parser("set-key", help="store a key in the secrets file (read from stdin)")
    set_key.add_argument("name", choices=sorted(ENV_NAMES))
    args = parser.parse_args(list(argv))
    args.config = getattr(args, "config_after", None) or args.config
    if args.action == "path":
        print(f"config:  {paths.config_path(args.config)}")
        print(f"secrets: {paths.secrets_path()}")
        print(f"state:   {paths.state_dir()}")
        print(f"themes:  {paths.user_themes_dir()}")
        return 0
    if args.action == "set-key":
        value = getpass.getpass(f"{args.name}: ") if sys.stdin.isatty() else sys.stdin.readline()
        value = value.strip()
        if not value:
            _fail("no key given")
        try:
            save_secret(paths.secrets_path(), args.name, value)
        except SecretsFileError as exc:
            _fail(str(exc))
        print(f"stored {args.name} in {paths.secrets_path()} (mode 0600)")
        return 0
    config, path, existed = _load(args.config)
    try:
        keys = load_keys(paths.secrets_path())
    except SecretsFileError as exc:
        _fail(str(exc))
    state = "ok" if existed else "not found, defaults apply"
    print(f"config {path}: {state}")
    print(f"watchlists: {', '.join(w.name for w in config.watchlists) or '(none)'}")
    for name in ENV_NAMES:
        where = keys.sources.get(name)
        print(f"{name}: {'set from ' + where if where else 'not set'}")
    if not keys.has_insightsentry:
        print("no InsightSentry key: marketpane runs on the embedded simulator (demo data)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``marketpane`` console script. A reader that goes away
    (``marketpane hub status | head -1``) ends the command quietly, as it does any Unix tool:
    exit 141 (128 + SIGPIPE), no traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail
        return 141
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "config":
        return _config_command(args[1:])
    if args and args[0] == "sim":
        from tui.sim.cli import sim_command

        return sim_command(args[1:])
    if args and args[0] == "replay":
        return _replay_command(args[1:])
    if args and args[0] == "hub":
        return _hub_command(args[1:])
    if args and args[0] == "portfolio":
        from tui.cli.portfolio import portfolio_command

        return portfolio_command(args[1:])
    if args and args[0] == "print":
        from tui.cli.printing import print_command

        return print_command(args[1:])
    if args and args[0] == "alert":
        from tui.cli.alerts import alert_command

        return alert_command(args[1:])
    options = parse_run_options(args)
    os.environ.setdefault("TEXTUAL_FPS", "30")
    from tui.cli.launch import run_app

    return run_app(options)


def _replay_command(argv: Sequence[str]) -> int:
    """``marketpane replay FILE [--speed X]``: show a ``--record`` file with no network."""
    from tui.engine.replay import ReplayError, read_recording

    parser = _Parser(prog="marketpane replay", description="Replay a --record file.")
    parser.add_argument("file")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--config", metavar="PATH")
    args = parser.parse_args(list(argv))
    if args.speed <= 0:
        _fail("--speed must be positive")
    try:
        rows = read_recording(Path(args.file))
    except ReplayError as exc:
        _fail(str(exc))
    options = parse_run_options(["--config", args.config] if args.config else [])
    options.demo = False
    os.environ.setdefault("TEXTUAL_FPS", "30")
    from tui.cli.launch import run_app

    return run_app(options, replay=(rows, args.speed))


def _hub_command(argv: Sequence[str]) -> int:
    """``marketpane hub serve|status|stop``: the process every pane of an account shares."""
    parser = _Parser(prog="marketpane hub", description="The shared hub of this account.")
    parser.add_argument("action", choices=["serve", "status", "stop"])
    parser.add_argument("--config", metavar="PATH")
    parser.add_argument("--demo", action="store_true", help="the demo's hub (simulator)")
    parser.add_argument("--plan", choices=sorted(PLAN_PRESETS))
    parser.add_argument("--linger", type=float, help="seconds to stay after the last pane")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log", metavar="FILE")
    parser.add_argument("--record", metavar="FILE", help="record every inbound frame (serve)")
    _add_endpoint_flags(parser)
    args = parser.parse_args(list(argv))
    config, path, _ = _load(args.config, colours=False)
    _apply_endpoint_flags(args, config)
    record = _check_output_path("--record", args.record) if args.record else None
    if args.plan:
        config.plan = preset_plan(args.plan)
    try:
        keys = load_keys(paths.secrets_path())
    except SecretsFileError as exc:
        _fail(str(exc))
    demo = args.demo or not keys.has_insightsentry
    from tui.hub.client import HubError, hub_status, stop_hub
    from tui.hub.owner import unwritable
    from tui.hub.place import account_id, place_for

    try:
        place = place_for(account_id(config, keys, demo=demo))
    except OSError as exc:
        _fail(f"hub: cannot use the hub folder: {unwritable(exc, paths.state_dir())}")
    if args.action == "serve":
        from tui.hub.run import serve_hub

        configure_logging(_check_output_path("--log", args.log) if args.log else None, debug=False)
        linger = config.hub.linger_seconds if args.linger is None else args.linger
        return serve_hub(
            config, path, keys, demo=demo, linger_seconds=linger, seed=args.seed, record_path=record
        )
    try:
        if args.action == "status":
            status = hub_status(place)
            print(
                f"hub pid {status.pid} (marketpane {status.version}), "
                f"up {status.uptime_seconds:.0f} s"
            )
            print(
                f"account {status.account}{' (demo)' if status.demo else ''}, panes {status.panes}"
            )
            print(f"upstream: {', '.join(status.feeds) or 'none'}")
            print(f"{status.plan}; {status.budget}")
            if status.alerts:
                print(status.alerts)
            for line in status.fleet:
                print(line)
            print(f"socket {place.socket}")
            return 0
        stop_hub(place)
        print(f"hub stopped (upstream closed with 1000); socket {place.socket}")
        return 0
    except HubError as exc:
        sys.stderr.write(f"marketpane hub: {exc}\n")
        return 1
