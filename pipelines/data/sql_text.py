"""Reading SQL text without running it: whether a configured query is one statement.

A ``;`` inside quotes, quoted identifiers and comments (and PostgreSQL's ``E'...'`` strings and dollar quotes)
separates nothing, so the text is scanned as the server would read it before any source query runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipelines.data.source_errors import SourceSchemaError


def single_statement(query: str, dialect: str = "postgresql") -> str:
    """``query`` without its trailing ``;``, or ``SourceSchemaError`` when it is more than one SQL statement.

    A ``;`` inside quotes, quoted identifiers and comments (and PostgreSQL's ``E'...'`` strings and dollar
    quotes) separates nothing; ``dialect`` (``postgresql`` or ``sqlite``) says how those are written.
    """
    code = [(at, char) for at, char in _code(query, postgres=dialect == "postgresql") if not char.isspace()]
    ends = [at for at, char in code if char == ";"]
    if not ends:
        return query
    if ends[0] != code[-1][0]:
        raise SourceSchemaError(
            f"the source query is more than one SQL statement (more SQL follows the ';' at character "
            f"{ends[0] + 1}): give a single SELECT"
        )
    return query[: ends[0]].rstrip()


_DOLLAR_QUOTE = re.compile(r"\$(?:[^\W\d]\w*)?\$")


def _code(query: str, postgres: bool) -> Iterator[tuple[int, str]]:
    """The characters of ``query`` outside quotes and comments, with their positions."""
    at, size = 0, len(query)
    while at < size:
        char, pair = query[at], query[at : at + 2]
        if pair == "--":
            end = query.find("\n", at)
            at = size if end < 0 else end + 1
        elif pair == "/*":
            at = _comment_end(query, at, nested=postgres)
        elif char in "'\"" or (not postgres and char in "[`"):
            escapes = postgres and char == "'" and query[at - 1 : at] in ("E", "e") and not _word_before(query, at - 1)
            at = _quote_end(query, at, "]" if char == "[" else char, escapes)
        elif postgres and char == "$" and not _word_before(query, at) and (tag := _DOLLAR_QUOTE.match(query, at)):
            end = query.find(tag[0], tag.end())
            at = size if end < 0 else end + len(tag[0])
        else:
            yield at, char
            at += 1


def _word_before(query: str, at: int) -> bool:
    return at > 0 and (query[at - 1].isalnum() or query[at - 1] in "_$")


def _comment_end(query: str, at: int, nested: bool) -> int:
    depth, at = 1, at + 2
    while at < len(query) and depth:
        pair = query[at : at + 2]
        if pair == "*/":
            depth, at = depth - 1, at + 2
        elif nested and pair == "/*":
            depth, at = depth + 1, at + 2
        else:
            at += 1
    return at


def _quote_end(query: str, at: int, close: str, escapes: bool) -> int:
    at += 1
    while at < len(query):
        char = query[at]
        if escapes and char == "\\":
            at += 2
        elif char == close and close != "]" and query[at + 1 : at + 2] == close:
            at += 2  # a doubled quote is one quote character
        elif char == close:
            return at + 1
        else:
            at += 1
    return at
