"""The Models page shown inside the Airflow UI: each model's aliases, ledger, latest quality and drift checks,
and its versions' model cards, rendered as self-contained HTML (every value from data is escaped)."""

from __future__ import annotations

import re
import tempfile
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from pipelines.config import settings
from pipelines.errors import PipelinesError

CARD_TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png"}
# Card files are MLflow artifacts served on Airflow's origin: they may show images and styles, never run scripts.
CARD_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
# Data Docs are GX's static HTML, with values from the data in it: served on Airflow's origin like cards.
DOCS_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self'"
DOCS_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".svg": "image/svg+xml",
    ".otf": "font/otf",
}
DOCS_FOLDER = "data_docs"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_WINDOW = re.compile(r"window=[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ALIASES = (("champion", "Champion"), ("challenger", "Challenger"), ("previous_champion", "Previous champion"))
_KIND_LABELS = {"rolled_back": "rolled back"}


class PageError(PipelinesError):
    """A request the page cannot answer, with the HTTP status to answer it with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def model_names() -> list[str]:
    from pipelines.config.schema import load_all

    return [cfg.name for cfg in load_all()]


def report(model: str) -> dict[str, Any]:
    """``status(model)`` plus, per aliased version, whether its training run logged a model card."""
    from pipelines.reports.status import status

    data = status(model)
    aliased = [data[key] for key, _ in _ALIASES if data.get(key)]
    data["cards"] = {info["version"]: _has_card(model, info["version"]) for info in aliased}
    return data


def card_file(model: str, version: str, name: str) -> tuple[bytes, str]:
    """One file of a version's model card as (content, media type); PageError 400/404 for bad or absent input."""
    from mlflow.exceptions import MlflowException

    from pipelines.registry import versions as registry
    from pipelines.reports.model_card import CARD_TAG, card_folder

    if model not in model_names():
        raise PageError(404, f"no model named {model!r}")
    if not re.fullmatch(r"[0-9]{1,9}", version):
        raise PageError(400, "the version must be a whole number")
    suffix = Path(name).suffix.lower()
    if not _PLAIN_NAME.fullmatch(name) or suffix not in CARD_TYPES:
        raise PageError(400, f"not a model card file name: {name!r}")
    try:
        info = registry.version(model, int(version))
    except MlflowException:
        info = None
    if info is None or info.run_id is None:
        raise PageError(404, f"{model} has no version {version}")
    run_id, folder = info.run_id, card_folder(info.tags.get(CARD_TAG))
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"{folder}/{name}", dst_path=tmp)
            return Path(path).read_bytes(), CARD_TYPES[suffix]
        except (MlflowException, OSError):
            raise PageError(404, f"version {version} of {model} has no model card file {name!r}") from None


def docs_file(model: str, window: str, path: str) -> tuple[bytes, str]:
    """One file of the Data Docs of a model's snapshot window as (content, media type); PageError 400 for a
    bad window or path (every segment a plain name), 404 for an absent model or file."""
    if model not in model_names():
        raise PageError(404, f"no model named {model!r}")
    if not _WINDOW.fullmatch(window):
        raise PageError(400, f"not a snapshot window: {window!r} (expected window=YYYY-MM-DD_YYYY-MM-DD)")
    parts = path.split("/")
    suffix = Path(parts[-1]).suffix.lower()
    if not all(_PLAIN_NAME.fullmatch(part) for part in parts) or suffix not in DOCS_TYPES:
        raise PageError(400, f"not a Data Docs file path: {path!r}")
    root = (settings.snapshots_dir() / model).resolve()
    folder = root / window / DOCS_FOLDER
    target = folder.joinpath(*parts).resolve()
    if not target.is_relative_to(folder.resolve()) or not target.is_relative_to(root) or not target.is_file():
        raise PageError(404, f"{model} has no Data Docs file {path!r} for {window}")
    return target.read_bytes(), DOCS_TYPES[suffix]


def docs_url(base: str, docs_path: str | None) -> str | None:
    """The Models page's address (under ``base``) of a Data Docs page written under the snapshots folder, given
    as the ``file://`` URL GX reports; None for anything else."""
    if not docs_path or not docs_path.startswith("file://"):
        return None
    try:
        parts = Path(unquote(urlsplit(docs_path).path)).resolve().relative_to(settings.snapshots_dir()).parts
    except ValueError:
        return None
    if len(parts) < 4 or parts[2] != DOCS_FOLDER or not _WINDOW.fullmatch(parts[1]):
        return None
    model, window, _, *rest = parts
    return f"{base.rstrip('/')}/{quote(model)}/data-docs/{quote(window)}/" + "/".join(quote(p) for p in rest)


def _has_card(model: str, version: int) -> bool:
    """Whether the version's card (of the decision its ``model_card`` tag names) was logged."""
    from pipelines.registry import versions as registry
    from pipelines.reports.model_card import CARD_PAGE, CARD_TAG, card_folder

    info = registry.version(model, version)
    if info.run_id is None:
        return False
    folder = card_folder(info.tags.get(CARD_TAG))
    return any(item.path == f"{folder}/{CARD_PAGE}" for item in registry.client().list_artifacts(info.run_id, folder))


def overview_html(reports: list[dict[str, Any]], base: str) -> str:
    """Every model in one table: its aliases, last decision, latest quality and drift."""
    rows = []
    for data in reports:
        model = str(data["model"])
        last = next(iter(data.get("ledger") or []), None)
        cells = [f'<a href="{_attr(f"{base}/{quote(model)}")}"><b>{_text(model)}</b></a>']
        cells += [_version(data.get(key)) for key, _ in _ALIASES]
        cells.append(f"{_badge(last.get('kind'))} {_when(last.get('decided_at'))}" if last else _muted("none yet"))
        cells += [_quality_badge(data.get("quality")), _drift_badge(data.get("drift"))]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    heads = ["Model", *(label for _, label in _ALIASES), "Last decision", "Quality", "Drift"]
    table = (
        '<table class="overview"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in heads)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else _muted("No model configs found.")
    )
    return _page("Models", f"<h1>Models</h1>{table}")


def model_html(data: dict[str, Any], base: str, mlflow_url: str) -> str:
    """One model: alias cards, latest quality and drift, and the ledger as a timeline."""
    model = str(data["model"])
    registered = f"{mlflow_url.rstrip('/')}/#/models/{quote(model)}"
    header = (
        f'<nav class="crumbs"><a href="{_attr(base + "/")}">Models</a> / {_text(model)}</nav>'
        f"<h1>{_text(model)} {_new_tab(registered, 'MLflow registered model', 'small')}</h1>"
    )
    cards = "".join(
        _alias_card(label, data.get(key), model, base, mlflow_url, data.get("cards", {})) for key, label in _ALIASES
    )
    checks = _quality_panel(data.get("quality"), base) + _drift_panel(data.get("drift"))
    entries = data.get("ledger") or []
    timeline = (
        '<ol class="timeline">' + "".join(_ledger_entry(entry) for entry in entries) + "</ol>"
        if entries
        else _muted("No decisions yet.")
    )
    body = (
        f'{header}<section class="row">{cards}</section><section class="row">{checks}</section>'
        f"<h2>Ledger</h2>{timeline}"
    )
    return _page(f"{model} · Models", body)


def error_html(status: int, message: str, base: str) -> str:
    return _page(
        "Models",
        f'<nav class="crumbs"><a href="{_attr(base + "/")}">Models</a></nav><h1>{status}</h1><p>{_text(message)}</p>',
    )


def _alias_card(
    label: str, info: dict[str, Any] | None, model: str, base: str, mlflow_url: str, cards: dict[int, bool]
) -> str:
    if not info:
        return f'<article class="card"><h3>{label}</h3>{_muted("none")}</article>'
    number = int(info["version"])
    version_url = f"{mlflow_url.rstrip('/')}/#/models/{quote(model)}/versions/{number}"
    card_url = f"{base}/{quote(model)}/versions/{number}/card/index.html"
    card_link = _new_tab(card_url, "Model card") if cards.get(number) else _muted("no model card logged")
    facts = [
        ("data", f"{_text(info.get('window_start') or '?')} → {_text(info.get('window_end') or '?')}"),
        ("trigger", _text(info.get("trigger") or "—")),
        ("snapshot", f"<code>{_text((info.get('snapshot_hash') or '—')[:12])}</code>"),
    ]
    return (
        f'<article class="card {label.split()[0].lower()}"><h3>{label}</h3>'
        f'<div class="version">v{number}</div>{_facts(facts)}{_metrics(info.get("metrics") or {})}'
        f'<p class="links">{_new_tab(version_url, "MLflow version")} · {card_link}</p></article>'
    )


def _quality_panel(quality: dict[str, Any] | None, base: str) -> str:
    if not quality:
        return f'<article class="card wide"><h3>Data quality</h3>{_muted("no validation recorded yet")}</article>'
    failed = quality.get("failed") or []
    facts = [
        ("result", _quality_badge(quality)),
        ("validated", _when(quality.get("validated_at"))),
        ("data before", _text(quality.get("window_end") or "?")),
        ("expectations", f"{_text(quality.get('evaluated', '?'))} ({len(quality.get('warnings') or [])} warning(s))"),
    ]
    docs = docs_url(base, quality.get("docs_path"))
    if docs:
        facts.append(("data docs", _new_tab(docs, "Data Docs")))
    elif quality.get("docs_path"):
        facts.append(("data docs", f"<code>{_text(quality['docs_path'])}</code>"))
    failures = "<ul>" + "".join(f"<li>{_text(item)}</li>" for item in failed) + "</ul>" if failed else ""
    return f'<article class="card wide"><h3>Data quality (latest)</h3>{_facts(facts)}{failures}</article>'


def _drift_panel(drift: dict[str, Any] | None) -> str:
    if not drift:
        return f'<article class="card wide"><h3>Drift</h3>{_muted("no drift check recorded yet")}</article>'
    features = drift.get("features") or []
    facts = [
        ("result", _drift_badge(drift)),
        ("checked", _when(drift.get("checked_at"))),
        ("data before", _text(drift.get("window_end") or "?")),
        ("drifted features", ", ".join(_text(f) for f in features) or "none"),
    ]
    return f'<article class="card wide"><h3>Drift (latest)</h3>{_facts(facts)}</article>'


def _ledger_entry(entry: dict[str, Any]) -> str:
    kind = entry.get("kind")
    subject = f"v{entry['version']}" if entry.get("version") is not None else "run"
    meta = [f"trigger {_text(entry.get('trigger') or 'manual')}"]
    if entry.get("window_end"):
        window = f"{entry['window_start']} → " if entry.get("window_start") else "before "
        meta.append(f"data {_text(window + str(entry['window_end']))}")
    if entry.get("champion_version") is not None:
        meta.append(f"champion then v{_text(entry['champion_version'])}")
    if entry.get("actor"):
        meta.append(f"by {_text(entry['actor'])}")
    if entry.get("airflow_run_id"):
        meta.append(f"run <code>{_text(entry['airflow_run_id'])}</code>")
    reasons = "".join(
        f'<li class="{"fail" if str(r).startswith("FAIL") else ""}">{_text(r)}</li>' for r in entry.get("reasons") or []
    )
    return (
        f'<li class="entry {_kind_class(kind)}"><div class="dot"></div><div class="body">'
        f"<div>{_badge(kind)} <b>{_text(subject)}</b> {_when(entry.get('decided_at'))}</div>"
        f'<div class="meta">{" · ".join(meta)}</div>'
        + (f'<div class="cause">{_text(entry["cause"])}</div>' if entry.get("cause") else "")
        + (f"<ul>{reasons}</ul>" if reasons else "")
        + _compared(entry.get("metrics") or {})
        + "</div></li>"
    )


def _compared(metrics: dict[str, Any]) -> str:
    """The challenger's and the champion's holdout metrics of one decision, side by side."""
    sides = [
        (side, metrics[side])
        for side in ("challenger", "champion")
        if isinstance(metrics.get(side), dict) and metrics[side]
    ]
    names = sorted({name for _, values in sides for name in values})
    if not names:
        return ""
    head = "".join(f"<th>{_text(name)}</th>" for name in names)
    rows = "".join(
        f"<tr><th>{side}</th>" + "".join(f"<td>{_text(_number(values.get(n, '—')))}</td>" for n in names) + "</tr>"
        for side, values in sides
    )
    return f'<table class="compare"><tr><th></th>{head}</tr>{rows}</table>'


def _quality_badge(quality: dict[str, Any] | None) -> str:
    if not quality:
        return _muted("—")
    return (
        '<span class="badge good">passed</span>' if quality.get("success") else '<span class="badge bad">failed</span>'
    )


def _drift_badge(drift: dict[str, Any] | None) -> str:
    if not drift:
        return _muted("—")
    if drift.get("confirmed"):
        return '<span class="badge bad">confirmed drift</span>'
    if drift.get("drift"):
        return '<span class="badge warn">drifted</span>'
    return '<span class="badge good">no drift</span>'


def _badge(kind: Any) -> str:
    label = _KIND_LABELS.get(str(kind), str(kind or "?"))
    return f'<span class="badge {_kind_class(kind)}">{_text(label)}</span>'


def _kind_class(kind: Any) -> str:
    return {
        "promoted": "good",
        "approved": "good",
        "rolled_back": "info",
        "rejected": "warn",
        "blocked": "bad",
        "refused": "bad",
    }.get(str(kind), "plain")


def _new_tab(url: str, label: str, css_class: str = "") -> str:
    return f'<a class="{css_class}" href="{_attr(url)}" target="_blank" rel="noopener">{_text(label)}</a>'


def _version(info: dict[str, Any] | None) -> str:
    return f"<b>v{_text(info['version'])}</b>" if info else _muted("—")


def _metrics(metrics: dict[str, Any]) -> str:
    if not metrics:
        return ""
    cells = "".join(
        f"<tr><td>{_text(name)}</td><td>{_text(_number(value))}</td></tr>" for name, value in sorted(metrics.items())
    )
    return f'<table class="metrics">{cells}</table>'


def _facts(facts: list[tuple[str, str]]) -> str:
    """Label/value pairs; values are HTML the caller has already escaped."""
    return '<dl class="facts">' + "".join(f"<dt>{_text(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _when(moment: Any) -> str:
    if not moment:
        return ""
    text = str(moment).replace("T", " ")[:19]
    return f'<time datetime="{_attr(moment)}">{_text(text)}</time>'


def _muted(text: str) -> str:
    return f'<span class="muted">{_text(text)}</span>'


def _text(value: Any) -> str:
    return escape(str(value), quote=False)


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_text(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body><main>{body}</main><script>{_SCRIPT}</script></body></html>"""


# The Airflow UI frames this page in a sandbox without "allow-popups", which blocks target="_blank" links;
# the framing window is the same origin, so such links open a tab through it instead.
_SCRIPT = """
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[target=_blank]");
  if (link && window.top !== window) { event.preventDefault(); window.top.open(link.href, "_blank", "noopener"); }
});
"""


_CSS = """
:root { --fg: #1a202c; --muted: #718096; --line: #e2e8f0; --panel: #fff; --bg: #f7fafc; --link: #2b6cb0; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1200px; padding: 20px 28px; }
h1 { font-size: 24px; margin: 4px 0 16px; }
h1 .small { font-size: 13px; font-weight: normal; margin-left: 12px; }
h2 { font-size: 18px; margin: 24px 0 8px; }
h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 6px; }
a { color: var(--link); text-decoration: none; } a:hover { text-decoration: underline; }
code { font-size: 12px; background: #edf2f7; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
.crumbs { color: var(--muted); font-size: 13px; }
.muted { color: var(--muted); }
.row { display: flex; gap: 16px; flex-wrap: wrap; margin-bottom: 16px; }
.card { flex: 1 1 240px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.card.wide { flex-basis: 360px; }
.card.champion { border-top: 4px solid #38a169; }
.card.challenger { border-top: 4px solid #d69e2e; }
.card.previous { border-top: 4px solid #a0aec0; }
.version { font-size: 30px; font-weight: 700; margin-bottom: 4px; }
.links { margin: 8px 0 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.metrics { border-collapse: collapse; margin-top: 6px; font-size: 13px; }
.metrics td { padding: 1px 14px 1px 0; border-bottom: 1px solid var(--line); }
.metrics td:last-child { font-variant-numeric: tabular-nums; }
.overview { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); }
.overview th, .overview td { text-align: left; padding: 10px 12px; border-bottom: 1px solid var(--line); }
.overview th { font-size: 12px; color: var(--muted); text-transform: uppercase; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.good { background: #c6f6d5; color: #22543d; } .badge.bad { background: #fed7d7; color: #822727; }
.badge.warn { background: #feebc8; color: #7b341e; } .badge.info { background: #e9d8fd; color: #44337a; }
.badge.plain { background: #e2e8f0; color: #2d3748; }
.timeline { list-style: none; margin: 0; padding: 0 0 0 18px; border-left: 2px solid var(--line); }
.entry { position: relative; margin: 0 0 14px; }
.entry .dot { position: absolute; left: -25px; top: 14px; width: 12px; height: 12px; border-radius: 50%;
  background: #a0aec0; border: 2px solid var(--bg); }
.entry.good .dot { background: #38a169; } .entry.bad .dot { background: #e53e3e; }
.entry.warn .dot { background: #dd6b20; } .entry.info .dot { background: #805ad5; }
.entry .body { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.entry ul { margin: 4px 0; padding-left: 20px; }
.entry time { color: var(--muted); margin-left: 6px; }
.entry .meta { color: var(--muted); font-size: 13px; }
.entry .cause { margin-top: 4px; }
.entry li.fail { color: #9b2c2c; }
.compare { border-collapse: collapse; font-size: 12px; margin-top: 4px; font-variant-numeric: tabular-nums; }
.compare th, .compare td { padding: 1px 12px 1px 0; text-align: right; }
.compare th { color: var(--muted); font-weight: 600; } .compare tr > th:first-child { text-align: left; }
"""
