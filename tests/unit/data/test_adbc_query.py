"""The SQL text the ADBC driver runs for a window (``pipelines.data.adbc_query``): only typed timestamps."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipelines.config.model import ModelConfig
from pipelines.data.adbc_query import spans_query, timestamp_literal
from pipelines.data.source_errors import SourceSchemaError
from pipelines.data.windows import Window

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
PREMIUM_QUERY = (
    "SELECT * FROM customer_events WHERE plan LIKE 'prem%' AND customer_id::bigint > 0 "
    "AND event_ts >= :window_start AND event_ts < :window_end;"
)


def with_source(cfg: ModelConfig, **source: str) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "source": {"url_env": "PIPELINES_SOURCE_URL", **source}})


@pytest.mark.parametrize("source", [{"table": "customer_events", "schema": "Sales"}, {"query": PREMIUM_QUERY}])
def test_window_query_renders_only_typed_timestamps(demo_cfg: ModelConfig, source: dict[str, str]) -> None:
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    cfg = with_source(demo_cfg, **source)
    later = datetime(2026, 5, 1, 12, 30) if "table" in source else None  # a query source selects no later rows
    sql = spans_query(cfg.source, "event_ts", [window], later, order_by=["event_ts", "ID"])
    assert "CAST('2026-01-11 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)" in sql
    assert "CAST('2026-03-01 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)" in sql
    assert sql.endswith('ORDER BY "event_ts", "ID"')
    assert "$" not in sql and "%%" not in sql and ":window" not in sql and not sql.rstrip().endswith(";")
    if "table" in source:
        assert sql.startswith('SELECT * FROM "Sales"."customer_events" WHERE ("event_ts" >= CAST(')
        assert "\"event_ts\" > CAST('2026-05-01 12:30:00' AS TIMESTAMP WITHOUT TIME ZONE)" in sql, "future rows too"
    else:
        assert sql.startswith("SELECT * FROM (SELECT * FROM customer_events WHERE plan LIKE 'prem%'")
        assert "::bigint" in sql


def test_runs_of_days_and_later_rows_are_one_condition_for_a_table(demo_cfg: ModelConfig) -> None:
    # given two runs of days to read and the instant after which rows are impossible
    spans = [Window.span(date(2026, 1, 20), date(2026, 1, 21)), Window.span(date(2026, 2, 28), date(2026, 3, 2))]
    # when the query is built for a table, then it selects the rows of either run or later, in one statement
    sql = spans_query(demo_cfg.source, "event_ts", spans, datetime(2026, 5, 1))
    literal = "CAST('{}' AS TIMESTAMP WITHOUT TIME ZONE)".format
    assert sql == (
        'SELECT * FROM "customer_events" WHERE '
        f'("event_ts" >= {literal("2026-01-20 00:00:00")} AND "event_ts" < {literal("2026-01-21 00:00:00")}) OR '
        f'("event_ts" >= {literal("2026-02-28 00:00:00")} AND "event_ts" < {literal("2026-03-02 00:00:00")}) OR '
        f'("event_ts" > {literal("2026-05-01 00:00:00")})'
    )
    # and a query source, which binds one window, is read one run at a time
    with pytest.raises(ValueError, match="one span at a time"):
        spans_query(with_source(demo_cfg, query=PREMIUM_QUERY).source, "event_ts", spans)


def test_window_query_orders_text_columns_by_code_point_when_asked(demo_cfg: ModelConfig) -> None:
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    order = ["event_ts", "Plan", "tenure_months"]
    sql = spans_query(demo_cfg.source, "event_ts", [window], order_by=order, as_text=["Plan"])
    assert sql.endswith('ORDER BY "event_ts", CAST("Plan" AS text) COLLATE "C", "tenure_months"')


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM t WHERE event_ts >= :window_start AND event_ts < :window_end",
        "SELECT *, '10:30'::time AS t, x::text FROM t WHERE (event_ts>=:window_start)AND event_ts<:window_end",
        "SELECT '\\:window_start' AS escaped, * FROM t WHERE event_ts BETWEEN :window_start AND :window_end",
        "SELECT * FROM t WHERE a::date >= CAST(:window_start AS date) AND event_ts < :window_end -- ends:here",
        "SELECT *, 'a;b' AS s FROM t WHERE event_ts >= :window_start AND event_ts < :window_end /* ; */",
    ],
)
def test_query_parameters_are_found_as_sqlalchemy_finds_them(demo_cfg: ModelConfig, query: str) -> None:
    # given a query source; when its window query is built, then the bounds are where SQLAlchemy binds them
    window = Window.for_as_of(AS_OF, demo_cfg.windows)
    marked = sa.text(query).bindparams(window_start="START", window_end="END")
    expected = str(marked.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    start, end = (timestamp_literal(bound) for bound in window.bounds())
    sql = spans_query(with_source(demo_cfg, query=query).source, "event_ts", [window])
    assert sql == expected.replace("'START'", start).replace("'END'", end)


def test_only_naive_datetimes_can_become_sql_literals() -> None:
    assert timestamp_literal(datetime(2026, 1, 11)) == "CAST('2026-01-11 00:00:00' AS TIMESTAMP WITHOUT TIME ZONE)"
    assert timestamp_literal(datetime(2026, 1, 11, 9, 5, 1, 20)) == (
        "CAST('2026-01-11 09:05:01.000020' AS TIMESTAMP WITHOUT TIME ZONE)"
    )
    for value in ("2026-01-11'; DROP TABLE x; --", date(2026, 1, 11), datetime(2026, 1, 11).astimezone()):
        with pytest.raises(TypeError, match="a window bound must be a naive datetime"):
            timestamp_literal(value)  # type: ignore[arg-type]
    assert timestamp_literal(pd.Timestamp("2026-01-11").to_pydatetime()).startswith("CAST('2026-01-11 00:00:00'")
    with pytest.raises(TypeError):
        timestamp_literal(pd.Timestamp("2026-01-11"))  # a datetime subclass is refused too


def test_query_with_another_parameter_is_a_schema_error(demo_cfg: ModelConfig) -> None:
    query = "SELECT * FROM t WHERE plan = :plan AND event_ts >= :window_start AND event_ts < :window_end"
    cfg = with_source(demo_cfg, query=query)
    with pytest.raises(SourceSchemaError, match=r"uses parameters other than :window_start and :window_end: :plan$"):
        spans_query(cfg.source, "event_ts", [Window.for_as_of(AS_OF, demo_cfg.windows)])
