"""The command line: the parser and one module per verb (the dashboard and replay in
:mod:`~tui.cli.launch`, ``print``, ``alert``, ``portfolio``), over the view and the core."""
