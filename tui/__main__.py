"""Allow ``python -m tui`` to behave like the ``marketpane`` console script."""

from tui.cli.main import main

raise SystemExit(main())
