"""How the verbs talk: progress lines on stderr, text or JSON on stdout, and who is running them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def progress(message: str) -> None:
    """Write a progress line on stderr."""
    print(f"  {message}", file=sys.stderr, flush=True)


def emit(args: argparse.Namespace, payload: dict[str, Any], lines: list[str]) -> None:
    """Print the verb's result: ``payload`` as JSON with ``--json``, else ``lines`` as text."""
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print("\n".join(lines))


def operator() -> str:
    """Who runs the CLI, for the ledger."""
    import getpass

    return f"{getpass.getuser()} (cli)"
