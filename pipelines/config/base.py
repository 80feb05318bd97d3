"""What every section of a model config shares: the frozen base model, SQL identifiers and ``ConfigError``."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from pipelines.errors import PipelinesError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Identifier = Annotated[str, Field(min_length=1, max_length=63)]


class ConfigError(PipelinesError, ValueError):
    """A model config that cannot be used, with a message naming the file and the bad key."""


class Frozen(BaseModel):
    """Base of every config section: immutable, and an unknown key is an error that names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def plain_identifier(value: str) -> str:
    """``value`` if it is a plain SQL identifier (letters, digits, underscore), else ``ValueError``."""
    if not IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
    return value
