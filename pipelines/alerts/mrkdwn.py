"""Slack message text: escaping per Slack's mrkdwn rules, links, and Block Kit blocks within Slack's limits.

Every value from data, config or an exception enters a message through :func:`escape` (``&``, ``<``, ``>``):
data is never code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT_LIMIT = 3000  # characters of a section block's text
HEADER_LIMIT = 150  # characters of a header block's text
FALLBACK_LIMIT = 4000  # Slack truncates a message's top-level text beyond 40,000; keep notifications short
MAX_BLOCKS = 50


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(value: object) -> str:
    """``value`` as Slack text that shows as written: ``&``, ``<`` and ``>`` as entities (Slack's rules), so a
    value can never mention ``<!channel>``, link, or break our formatting's links.
    """
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A Slack link to ``url`` showing ``label``: both escaped, and ``|`` in the URL encoded."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"


@dataclass(frozen=True)
class SlackMessage:
    """Block Kit ``blocks`` with ``text`` as the plain-text fallback (notifications, old clients)."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        """The JSON body for the webhook, cut to Slack's limits."""
        return {"text": clip(self.text, FALLBACK_LIMIT), "blocks": self.blocks[:MAX_BLOCKS]}


def section(text: str) -> dict[str, Any]:
    """A section block of mrkdwn ``text`` (already escaped), clipped to Slack's limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}}


def header(text: str) -> dict[str, Any]:
    """A header block of plain ``text``, clipped to Slack's limit."""
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_LIMIT)}}


def context(*parts: str) -> dict[str, Any]:
    """A context block: up to ten small mrkdwn ``parts`` (already escaped)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(p, TEXT_LIMIT)} for p in parts[:10]]}
