"""The data sections of a model config: where its rows come from (``source``), which columns mean what
(``columns``) and how many days it trains and is judged on (``windows``).
"""

from __future__ import annotations

import os
import re

from pydantic import Field, field_validator, model_validator

from pipelines.config import settings
from pipelines.config.base import ConfigError, Frozen, Identifier, plain_identifier


class SourceConfig(Frozen):
    """Where rows come from. The URL is never in the file: it comes from an env var or a connection."""

    url_env: str = Field(description="Environment variable holding the SQLAlchemy URL.")
    conn_id: str | None = Field(default=None, description="Airflow connection used when the env var is unset.")
    default_url: str | None = Field(
        default=None,
        description="Fallback URL without secrets, e.g. a SQLite file; '{home}' is the state folder.",
    )
    table: str | None = None
    db_schema: str | None = Field(default=None, alias="schema")
    query: str | None = Field(
        default=None, description="SELECT with the bound parameters :window_start and :window_end."
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> SourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if self.table is not None:
            plain_identifier(self.table)
        if self.db_schema is not None:
            plain_identifier(self.db_schema)
        if self.query is not None and not {":window_start", ":window_end"} <= set(re.findall(r":\w+", self.query)):
            raise ValueError("'query' must use the bound parameters :window_start and :window_end")
        return self

    def resolve_url(self, connection_url: str | None = None) -> str:
        """The SQLAlchemy URL: env var, then the given connection URL, then the default."""
        url = os.environ.get(self.url_env) or connection_url or self.default_url
        if not url:
            raise ConfigError(
                f"no source URL: set the environment variable {self.url_env}"
                + (f" or the Airflow connection {self.conn_id}" if self.conn_id else "")
            )
        return url.replace("{home}", str(settings.home()))


class ColumnsConfig(Frozen):
    """Which columns of the source the model uses: timestamp, entity key, label and features."""

    timestamp: Identifier
    entity_key: Identifier | None = Field(
        default=None,
        description="Column naming the entity a row is about; optional. Ingest orders rows by the timestamp, then "
        "by it (without one, by every other column).",
    )
    label: Identifier
    numeric: tuple[Identifier, ...] = ()
    categorical: tuple[Identifier, ...] = ()
    timestamp_timezone: str = Field(
        default="UTC",
        description="IANA zone of a timestamp column without a zone (wall-clock times); ingest converts it to UTC.",
    )
    unique_key: tuple[Identifier, ...] | None = Field(
        default=None,
        description="Columns no two rows may share (the quality gate checks them); default the entity key, "
        "else none; [] for none.",
    )

    @field_validator("timestamp_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import available_timezones  # scans the zone database (~30 ms): only for zones other than UTC

        if value != "UTC" and (value not in available_timezones() or value in {"localtime", "Factory"}):
            raise ValueError(f"{value!r} is not an IANA time zone name (such as 'UTC' or 'America/New_York')")
        return value

    @field_validator("timestamp", "entity_key", "label")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else plain_identifier(value)

    @field_validator("numeric", "categorical", "unique_key")
    @classmethod
    def _plain_all(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(plain_identifier(v) for v in values)

    @model_validator(mode="after")
    def _distinct(self) -> ColumnsConfig:
        features = self.features
        if not features:
            raise ValueError("at least one numeric or categorical feature is needed")
        names = [self.timestamp, *([self.entity_key] if self.entity_key else []), self.label, *features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns listed twice: {', '.join(dupes)}")
        unique = self.unique_key or ()
        if len(set(unique)) < len(unique):
            raise ValueError(f"unique_key lists a column twice: {', '.join(unique)}")
        return self

    @property
    def unique_columns(self) -> tuple[str, ...]:
        """The columns the quality gate checks for duplicates: ``unique_key``, else the entity key, else none."""
        if self.unique_key is not None:
            return self.unique_key
        return (self.entity_key,) if self.entity_key else ()

    @property
    def features(self) -> tuple[str, ...]:
        """The feature columns: numeric, then categorical."""
        return self.numeric + self.categorical

    @property
    def all(self) -> tuple[str, ...]:
        """Every column the model reads: the timestamp, the entity key (if any), the features and the label."""
        return (self.timestamp, *([self.entity_key] if self.entity_key else []), *self.features, self.label)


class WindowsConfig(Frozen):
    """Days of data for a run with as-of date D: training days, then holdout days, ending before D."""

    training_days: int = Field(ge=1, le=3650)
    holdout_days: int = Field(ge=1, le=365)
    validation_fraction: float = Field(default=0.2, gt=0, lt=0.5)
