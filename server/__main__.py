"""``python -m server`` is ``model-runtime``."""

from .cli import main

raise SystemExit(main())
