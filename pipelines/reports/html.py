"""The one Jinja environment of every HTML page (model card, drift report, Models page) and its format filters.

Templates live in ``templates/`` of this package. Autoescape is on, with the standard library's escaping
(``html.escape``: ``& < > " '``) applied to every value a template prints, unless it is already markup.
"""

from __future__ import annotations

import html
import math
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup


def number(value: Any) -> str:
    """A float to four decimals, blank when absent or not finite; anything else as text."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def percent(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{value:.1%}"


def timestamp(moment: datetime | str) -> str:
    """An instant as ISO 8601 text (microseconds for a ``datetime``, as the ledger stores it)."""
    return moment.isoformat(timespec="microseconds") if isinstance(moment, datetime) else moment


def render(template: str, **context: Any) -> str:
    """The named template rendered with ``context``."""
    return _environment().get_template(template).render(**context)


def _escaped(value: Any) -> Markup:
    return value if isinstance(value, Markup) else Markup(html.escape(str(value)))  # noqa: S704 - escaped first


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("pipelines.reports", "templates"),
        autoescape=True,
        finalize=_escaped,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters.update(number=number, percent=percent, timestamp=timestamp, quote=quote)
    return environment
