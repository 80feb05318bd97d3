"""Model configs: every file in configs/ validates, and each kind of mistake is refused by name."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.config import settings
from pipelines.config.base import ConfigError
from pipelines.config.loading import config_paths, load_all, load_config, load_model
from pipelines.config.model import ModelConfig

WINDOW_QUERY = "SELECT * FROM customer_events WHERE event_ts >= :window_start AND event_ts < :window_end"
_DEMO_RAW: dict[str, Any] = yaml.safe_load((settings.configs_dir() / "demo.yaml").read_text())


@pytest.fixture
def raw() -> dict[str, Any]:
    """A fresh, mutable copy of the demo config as parsed YAML."""
    return copy.deepcopy(_DEMO_RAW)


def write(directory: Path, raw: dict[str, Any], stem: str | None = None) -> Path:
    path = directory / f"{stem or raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def load_error(directory: Path, raw: dict[str, Any], stem: str | None = None) -> str:
    path = write(directory, raw, stem)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message, "every config error names the file"
    return message


# --- the real configs --------------------------------------------------------------------------------


def test_every_config_in_configs_validates() -> None:
    # given the configs folder of the repository
    files = config_paths()
    # when every file is loaded
    configs = load_all()
    # then each validates and is named after its file
    assert files, "configs/ holds at least one model config"
    assert [c.name for c in configs] == [p.stem for p in files]
    assert "demo" in {c.name for c in configs}


def test_written_copy_of_demo_loads_identically(tmp_path: Path, raw: dict[str, Any]) -> None:
    """Control for the helpers below: an unmodified copy is valid, so each failure comes from its mutation."""
    assert load_config(write(tmp_path, raw)) == load_model("demo")


def test_configs_are_frozen(demo_cfg: ModelConfig) -> None:
    with pytest.raises(ValueError, match="Instance is frozen"):
        demo_cfg.policy.floor = 0.0  # type: ignore[misc]


# --- unknown and missing keys ------------------------------------------------------------------------


def test_unknown_nested_key_is_named(tmp_path: Path, raw: dict[str, Any]) -> None:
    # given a typo inside the columns section
    raw["columns"]["featurez"] = ["tenure_months"]
    # when loading / then the error names the full key path
    assert "columns.featurez" in load_error(tmp_path, raw)


def test_unknown_top_level_key_is_named(tmp_path: Path, raw: dict[str, Any]) -> None:
    # given a misspelt top-level section
    raw["polcy"] = raw.pop("policy")
    # when loading
    message = load_error(tmp_path, raw)
    # then both the unknown key and the now-missing one are named
    assert "polcy" in message
    assert "policy: Field required" in message


def test_missing_required_key_is_named(tmp_path: Path, raw: dict[str, Any]) -> None:
    # given a config without the label column
    del raw["columns"]["label"]
    # then the error names it as required
    message = load_error(tmp_path, raw)
    assert "columns.label" in message
    assert "required" in message.lower()


# --- metrics and tasks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "primary", "guards", "wrong"),
    [
        ("binary", "rmse", {}, "rmse"),
        ("binary", "roc_auc", {"r2": 0.01}, "r2"),
        ("regression", "roc_auc", {}, "roc_auc"),
    ],
)
def test_metrics_must_fit_the_task(
    tmp_path: Path, raw: dict[str, Any], task: str, primary: str, guards: dict[str, float], wrong: str
) -> None:
    # given a policy using a metric of the other task
    raw["task"] = task
    raw["policy"]["primary_metric"] = primary
    raw["policy"]["guards"] = guards
    # then the error names the metric and the task
    message = load_error(tmp_path, raw)
    assert repr(wrong) in message
    assert repr(task) in message


def test_regression_config_with_regression_metrics_is_valid(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["task"] = "regression"
    raw["policy"].update(primary_metric="rmse", floor=10.0, guards={"mae": 0.5})
    cfg = load_config(write(tmp_path, raw))
    assert (cfg.task, cfg.policy.primary_metric) == ("regression", "rmse")


@pytest.mark.parametrize("column", ["tenure_months", "no_such_column", "churned"])
def test_slice_columns_must_be_categorical_features(tmp_path: Path, raw: dict[str, Any], column: str) -> None:
    # given slices by a numeric feature, an unknown column or the label
    raw["policy"]["slices"] = {"columns": ["plan", column], "tolerance": 0.05, "min_rows": 100}
    # when loading / then the error names the key and that column, not the categorical one
    message = load_error(tmp_path, raw)
    assert "policy.slices.columns must be categorical features; not: " + column in message
    assert "plan" not in message.split("not: ")[1]


def test_demo_config_judges_slices_by_plan_and_region(demo_cfg: ModelConfig) -> None:
    slices = demo_cfg.policy.slices
    assert slices.columns == ("plan", "region")
    assert set(slices.columns) <= set(demo_cfg.columns.categorical)


# --- names -------------------------------------------------------------------------------------------


def test_name_must_match_file_name(tmp_path: Path, raw: dict[str, Any]) -> None:
    # given the demo config saved as churn.yaml
    message = load_error(tmp_path, raw, stem="churn")
    # then the error names both
    assert "'demo'" in message
    assert "'churn'" in message


def test_model_name_must_be_lower_case(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["name"] = "Demo"
    assert "name:" in load_error(tmp_path, raw)


# --- sources -----------------------------------------------------------------------------------------


def test_source_with_table_and_query_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["source"]["query"] = WINDOW_QUERY
    assert "exactly one of 'table' or 'query'" in load_error(tmp_path, raw)


def test_source_without_table_or_query_is_refused(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["source"]["table"]
    assert "exactly one of 'table' or 'query'" in load_error(tmp_path, raw)


def test_source_with_windowed_query_is_valid(tmp_path: Path, raw: dict[str, Any]) -> None:
    del raw["source"]["table"]
    raw["source"]["query"] = WINDOW_QUERY
    assert load_config(write(tmp_path, raw)).source.query == WINDOW_QUERY


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM customer_events",
        "SELECT * FROM customer_events WHERE event_ts >= :window_start",
        "SELECT * FROM customer_events WHERE event_ts >= '2026-01-01' AND event_ts < :window_end",
    ],
)
def test_query_must_bind_both_window_parameters(tmp_path: Path, raw: dict[str, Any], query: str) -> None:
    del raw["source"]["table"]
    raw["source"]["query"] = query
    message = load_error(tmp_path, raw)
    assert ":window_start" in message
    assert ":window_end" in message


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("source", "table", "t; drop table x"),
        ("source", "table", 'customer_events" --'),
        ("source", "schema", "public; drop schema public"),
        ("columns", "timestamp", "event_ts; drop table x"),
        ("columns", "label", "churned or 1=1"),
    ],
)
def test_non_identifiers_are_refused(tmp_path: Path, raw: dict[str, Any], section: str, key: str, value: str) -> None:
    # given an SQL injection attempt where an identifier belongs
    raw[section][key] = value
    # then the config is refused, quoting the bad value
    message = load_error(tmp_path, raw)
    assert "is not a plain SQL identifier" in message
    assert repr(value) in message


# --- reading files -----------------------------------------------------------------------------------


def test_invalid_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("name: demo\ncolumns: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read YAML"):
        load_config(path)


def test_non_mapping_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_config(path)


def test_load_model_of_unknown_name_lists_known_models() -> None:
    with pytest.raises(ConfigError) as info:
        load_model("nope")
    assert "unknown model 'nope'" in str(info.value)
    assert "demo" in str(info.value)


def test_load_model_lists_every_model_of_a_folder(tmp_path: Path, raw: dict[str, Any]) -> None:
    # given a folder with two models
    for name in ("beta", "alpha"):
        write(tmp_path, {**raw, "name": name})
    # when asking for a third / then both are listed, sorted
    with pytest.raises(ConfigError, match=r"unknown model 'gamma' \(known: alpha, beta\)"):
        load_model("gamma", tmp_path)
    assert load_model("alpha", tmp_path).name == "alpha"


def test_load_model_in_an_empty_folder_says_none(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(known: none\)"):
        load_model("demo", tmp_path)


# --- source URL resolution ---------------------------------------------------------------------------


def test_source_url_prefers_env_var(demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINES_SOURCE_URL", "sqlite:///from-env.db")
    assert demo_cfg.source.resolve_url("sqlite:///from-connection.db") == "sqlite:///from-env.db"


def test_source_url_falls_back_to_connection_then_default(
    demo_cfg: ModelConfig, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPELINES_SOURCE_URL", raising=False)
    assert demo_cfg.source.resolve_url("sqlite:///from-connection.db") == "sqlite:///from-connection.db"
    # the default's {home} is the test's own state folder
    assert demo_cfg.source.resolve_url() == f"sqlite:///{home.resolve()}/demo_source.db"


def test_no_source_url_names_env_var_and_connection(tmp_path: Path, raw: dict[str, Any], monkeypatch) -> None:
    monkeypatch.delenv("PIPELINES_SOURCE_URL", raising=False)
    del raw["source"]["default_url"]
    cfg = load_config(write(tmp_path, raw))
    with pytest.raises(ConfigError, match="PIPELINES_SOURCE_URL or the Airflow connection demo_source"):
        cfg.source.resolve_url()


# --- quality: per-day checks -------------------------------------------------------------------------


def test_per_day_checks_are_on_by_default_with_safe_bounds(demo_cfg: ModelConfig) -> None:
    daily = demo_cfg.quality.daily
    assert daily.enabled and daily.weekly and daily.severity == "critical"
    assert (daily.newest_days, daily.tolerance, daily.newest_tolerance) == (1, 6.0, 5.0)
    assert (daily.min_rows_change, daily.min_rate_change, daily.min_mean_change) == (0.5, 0.1, 0.35)


def test_per_day_check_keys_are_typed(tmp_path: Path, raw: dict[str, Any]) -> None:
    raw["quality"]["daily"] = {"newest_days": 3, "min_mean_change": 0.5, "severity": "warning"}
    daily = load_config(write(tmp_path, raw)).quality.daily
    assert (daily.newest_days, daily.min_mean_change, daily.severity) == (3, 0.5, "warning")


@pytest.mark.parametrize(
    ("key", "value"),
    [("newest_dayz", 1), ("newest_days", 0), ("tolerance", 0), ("min_rate_change", 1.5), ("severity", "fatal")],
)
def test_bad_per_day_check_keys_are_named(tmp_path: Path, raw: dict[str, Any], key: str, value: object) -> None:
    raw["quality"]["daily"] = {key: value}
    assert f"quality.daily.{key}" in load_error(tmp_path, raw)
