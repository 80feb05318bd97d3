"""GX's Data Docs page views with their compiled templates kept for the process (named in the site config).

GX makes a Jinja environment per view and a view per site section, so each context parsed and compiled the same
page templates again (about a tenth of a second per validation). These views are GX's own, rendering the same
HTML; their environments share one in-memory bytecode cache, so a template is compiled once per process (Jinja
still checks each template's source against the cached code).
"""

from __future__ import annotations

from typing import Any

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket


class _ProcessBytecodeCache(BytecodeCache):
    """Compiled templates by Jinja's bucket key, for the life of the process."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (code := self._code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _ProcessBytecodeCache()


class PageView(DefaultJinjaPageView):
    """GX's page view (suites, validation results), its templates compiled once per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED


class IndexPageView(DefaultJinjaIndexPageView):
    """GX's index page view, its templates compiled once per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED
