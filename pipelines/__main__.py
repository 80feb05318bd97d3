"""``python -m pipelines``: run the CLI and exit with its status."""

from pipelines.cli import main

raise SystemExit(main())
