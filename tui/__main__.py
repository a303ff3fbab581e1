"""Allow ``python -m tui`` to behave like the ``marketpane`` console script."""

from tui.cli import main

raise SystemExit(main())
