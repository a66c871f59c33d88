"""``python -m bot`` does what the ``safeharbor`` command does."""

from bot.cli import main

raise SystemExit(main())
