"""``python -m pipelines VERB``: exit codes, error lines and the stable ``--json`` shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main

STATUS_KEYS = {"model", "champion", "challenger", "previous_champion", "ledger", "quality", "drift", "performance"}
SUMMARY_KEYS = {"version", "window_start", "window_end", "snapshot_hash", "trigger", "metrics", "decision", "run_id"}
LEDGER_KEYS = {
    "id",
    "model",
    "kind",
    "version",
    "champion_version",
    "decided_at",
    "metrics",
    "reasons",
    "window_start",
    "window_end",
    "trigger",
    "cause",
    "airflow_run_id",
    "actor",
    "decision_id",
}


@pytest.fixture
def missing_table_url(home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """PIPELINES_SOURCE_URL pointing at a database without the demo table."""
    url = f"sqlite:///{home / 'empty.db'}"
    monkeypatch.setenv("PIPELINES_SOURCE_URL", url)
    return url


@pytest.mark.parametrize("verb", ["retrain", "ingest", "validate"])
@pytest.mark.parametrize("bad", ["2026-13-01", "01/03/2026"])
def test_bad_date_exits_2_naming_the_format(home: Path, capsys: pytest.CaptureFixture[str], verb: str, bad: str):
    with pytest.raises(SystemExit) as info:
        main([verb, "--as-of", bad])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--as-of" in err
    assert f"{bad!r} is not a date in the form YYYY-MM-DD" in err


def test_missing_as_of_exits_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["retrain"])
    assert info.value.code == 2
    assert "--as-of" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["retrain", "--model", "nope", "--as-of", "2026-03-01"],
        ["ingest", "--model", "nope", "--as-of", "2026-03-01"],
        ["status", "--model", "nope"],
        ["rollback", "--model", "nope"],
    ],
)
def test_unknown_model_exits_1(home: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: unknown model 'nope' (known: ")
    assert "demo" in captured.err
    assert captured.out == ""


def test_retrain_json_on_seeded_source(
    registry_home: Path, seeded_source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the source URL in the environment, as in production
    monkeypatch.setenv("PIPELINES_SOURCE_URL", seeded_source)
    # when the whole chain runs with --json
    code = main(["retrain", "--as-of", "2026-03-01", "--json"])
    captured = capsys.readouterr()
    # then stdout is exactly one JSON object (progress goes to stderr), and v1 is promoted
    assert code == 0, captured.err
    outcome = json.loads(captured.out)
    assert {"status", "version", "reasons"} <= outcome.keys()
    assert (outcome["status"], outcome["version"], outcome["stage"]) == ("promoted", 1, None)
    assert outcome["reasons"][0].startswith("ok floor: roc_auc")
    assert outcome["snapshot"]["rows"] == 49 * 150
    assert "ingest:" in captured.err and "validate:" in captured.err and "train: version 1" in captured.err
    # when asking for the status / then it shows v1 as champion with its decision
    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report.keys() == STATUS_KEYS
    assert report["champion"].keys() == SUMMARY_KEYS
    assert (report["champion"]["version"], report["champion"]["window_end"]) == (1, "2026-03-01")
    assert report["champion"]["snapshot_hash"] == outcome["snapshot"]["content_hash"]
    assert report["previous_champion"] is None
    assert [(e["version"], e["kind"], e["actor"]) for e in report["ledger"]] == [(1, "promoted", "policy")]
    entry = report["ledger"][0]
    assert entry.keys() == LEDGER_KEYS
    assert (entry["window_end"], entry["trigger"], entry["champion_version"]) == ("2026-03-01", "manual", None)
    assert entry["metrics"]["challenger"]["roc_auc"] == pytest.approx(outcome["metrics"]["challenger"]["roc_auc"])
    assert report["quality"]["success"] is True and report["quality"]["window_end"] == "2026-03-01"
    assert report["drift"] is None


def test_status_json_shape_on_an_empty_registry(registry_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "model": "demo",
        "champion": None,
        "challenger": None,
        "previous_champion": None,
        "ledger": [],
        "quality": None,
        "drift": None,
        "performance": None,
    }


def test_status_text_without_champion(registry_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    assert capsys.readouterr().out.strip() == "no champion yet"


def test_retrain_on_missing_table_exits_1_naming_the_stage(
    missing_table_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retrain", "--as-of", "2026-03-01"]) == 1
    captured = capsys.readouterr()
    assert "demo as of 2026-03-01: failed" in captured.out
    assert "error: ingest failed: " in captured.err
    assert "no such table: customer_events" in captured.err


def test_retrain_json_on_missing_table_reports_failed_stage(
    missing_table_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retrain", "--as-of", "2026-03-01", "--json"]) == 1
    outcome = json.loads(capsys.readouterr().out)
    assert (outcome["status"], outcome["stage"], outcome["version"], outcome["snapshot"]) == (
        "failed",
        "ingest",
        None,
        None,
    )
    assert outcome["reasons"][0].startswith("ingest failed: ")


def test_retrain_failure_reason_is_one_clean_line(missing_table_url: str, capsys: pytest.CaptureFixture[str]):
    assert main(["retrain", "--as-of", "2026-03-01", "--json"]) == 1
    reason = json.loads(capsys.readouterr().out)["reasons"][0]
    assert "\n" not in reason
    assert reason.startswith("ingest failed: cannot read customer_events from ")


def test_ingest_on_missing_table_exits_1(missing_table_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--as-of", "2026-03-01"]) == 1
    assert "error: cannot read customer_events" in capsys.readouterr().err


def test_source_url_flag_overrides_the_env_var(
    missing_table_url: str, seeded_source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # given PIPELINES_SOURCE_URL pointing at an empty database, when --source-url names the seeded one
    assert main(["ingest", "--as-of", "2026-03-01", "--source-url", seeded_source, "--json"]) == 0
    # then the seeded database is read
    snapshot = json.loads(capsys.readouterr().out)["snapshot"]
    assert snapshot["rows"] == 49 * 150
    assert Path(snapshot["path"]).is_file()


def test_ingest_reads_the_env_var_source(
    seeded_source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIPELINES_SOURCE_URL", seeded_source)
    assert main(["ingest", "--as-of", "2026-03-01", "--training-days", "7", "--json"]) == 0
    snapshot = json.loads(capsys.readouterr().out)["snapshot"]
    assert (snapshot["rows"], snapshot["window_start"], snapshot["window_end"]) == (
        14 * 150,
        "2026-02-15",
        "2026-03-01",
    )


def test_rollback_without_champion_exits_1(registry_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback"]) == 1
    assert capsys.readouterr().err == "error: demo: there is no champion to roll back\n"


def test_seed_writes_the_given_source(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{home / 'seeded.db'}"
    assert main(["seed", "--source-url", url, "--start", "2026-02-01", "--days", "2", "--rows-per-day", "10"]) == 0
    assert capsys.readouterr().out == "seeded 20 rows into customer_events: 2026-02-01 .. 2026-02-02\n"


def test_seed_refuses_non_positive_days(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["seed", "--days", "0"])
    assert info.value.code == 2
    assert "must be a whole number of at least 1" in capsys.readouterr().err


def test_seed_with_a_malformed_source_url_is_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--source-url", "postgresql://u@h:notaport/db", "--days", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: bad source URL: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("suite_text", "named"),
    [
        ('{"expectations": [', "is not valid JSON"),
        ("[1, 2]", "is not a GX suite"),
        (
            '{"expectations": [{"type": "expect_column_values_to_be_foo", "kwargs": {"column": "age"}}]}',
            "names expectations GX does not know: expect_column_values_to_be_foo",
        ),
    ],
    ids=["malformed-json", "not-an-object", "unknown-expectation"],
)
def test_a_broken_suite_stops_validate_in_one_line_never_passing_without_its_checks(
    seeded_source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suite_text: str,
    named: str,
) -> None:
    # given a suite folder whose demo suite is broken (GX alone would log and drop an unknown expectation)
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "demo.json").write_text(suite_text)
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(suites))
    # when validating / then one error line names the problem and nothing is reported as passed
    assert main(["validate", "--as-of", "2026-03-01", "--source-url", seeded_source]) == 1
    captured = capsys.readouterr()
    assert named in captured.err
    assert captured.err.count("error:") == 1 and "Traceback" not in captured.err
    assert "passed" not in captured.out


def test_an_error_the_pipeline_raises_on_purpose_is_one_line_and_a_bug_keeps_its_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines import cli
    from pipelines.errors import InputError

    def refuse(args: object) -> int:
        raise InputError("v9 is not a version of demo")

    def bug(args: object) -> int:
        raise KeyError("window_end")

    # given a verb that refuses its input: one line, exit 1
    monkeypatch.setitem(cli._VERBS, "status", refuse)
    assert main(["status"]) == 1
    assert capsys.readouterr().err == "error: v9 is not a version of demo\n"
    # given a verb with a bug: the traceback is not swallowed into one line
    monkeypatch.setitem(cli._VERBS, "status", bug)
    with pytest.raises(KeyError, match="window_end"):
        main(["status"])
