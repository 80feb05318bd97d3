"""The Models page shown inside the Airflow UI: each model's aliases, ledger, latest quality and drift checks,
measured performance with a timeline, and its versions' model cards and Data Docs, rendered from
``templates/models_page/`` as self-contained HTML (every value from data is escaped).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from pipelines.config import settings
from pipelines.errors import PipelinesError
from pipelines.reports.html import render

if TYPE_CHECKING:
    from pipelines.reports.status import Status

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


class PageError(PipelinesError):
    """A request the page cannot answer, with the HTTP status to answer it with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def model_names() -> list[str]:
    """Every configured model's name."""
    from pipelines.config.loading import load_all

    return [cfg.name for cfg in load_all()]


@dataclass(frozen=True)
class ModelReport:
    """A model's status, per aliased version whether its training run logged a model card, its timeline (a
    base64 PNG: daily performance, promotions, drift checks) and the decay curve of its latest ``cadence``;
    each None when there is nothing to draw.
    """

    status: Status
    cards: dict[int, bool]
    timeline: str | None = None
    decay_curve: str | None = None


def report(model: str) -> ModelReport:
    """``status(model)``, the model cards of its aliased versions and its timeline."""
    from pipelines.config.loading import load_model
    from pipelines.drift.history import CheckHistory
    from pipelines.performance import store
    from pipelines.reports.performance_plot import decay_curve_png, timeline_png
    from pipelines.reports.status import status

    cfg = load_model(model)
    metric = cfg.policy.primary_metric
    now = status(model, cfg=cfg)
    aliased = [info for info in now.aliases().values() if info]
    checks = [(record.time, record.drift) for record in CheckHistory(model).records()]
    title = f"{model}: {metric} per data day, promotions and drift checks"
    timeline = timeline_png(store.series(model), now.ledger, checks, metric, cfg.policy.floor, title)
    cadence = store.latest_cadence_result(model)
    curve = decay_curve_png(cadence[1], f"{model}: {metric} by model age ({cadence[0]})") if cadence else None
    cards = {info.version: _has_card(model, info.version) for info in aliased}
    return ModelReport(now, cards, timeline, curve)


def card_file(model: str, version: str, name: str) -> tuple[bytes, str]:
    """One file of a version's model card as (content, media type); PageError 400/404 for bad or absent input."""
    from mlflow.exceptions import MlflowException

    from pipelines.registry import versions as registry
    from pipelines.reports.model_card import card_folder

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
    run_id, folder = info.run_id, card_folder(info.tags.get(registry.CARD_TAG))
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"{folder}/{name}", dst_path=tmp)
            return Path(path).read_bytes(), CARD_TYPES[suffix]
        except (MlflowException, OSError):
            raise PageError(404, f"version {version} of {model} has no model card file {name!r}") from None


def docs_file(model: str, window: str, path: str) -> tuple[bytes, str]:
    """One file of the Data Docs of a model's snapshot window as (content, media type); PageError 400 for a
    bad window or path (every segment a plain name), 404 for an absent model or file.
    """
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
    as the ``file://`` URL GX reports; None for anything else.
    """
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
    from pipelines.reports.model_card import CARD_PAGE, card_folder

    info = registry.version(model, version)
    if info.run_id is None:
        return False
    folder = card_folder(info.tags.get(registry.CARD_TAG))
    return any(item.path == f"{folder}/{CARD_PAGE}" for item in registry.client().list_artifacts(info.run_id, folder))


def overview_html(reports: list[ModelReport], base: str) -> str:
    """Every model in one table: its aliases, last decision, latest quality and drift."""
    return render("models_page/overview.html", title="Models", reports=reports, base=base)


def model_html(report: ModelReport, base: str, mlflow_url: str) -> str:
    """One model: alias cards, latest quality and drift, and the ledger as a timeline."""
    status = report.status
    return render(
        "models_page/model.html",
        title=f"{status.model} · Models",
        status=status,
        cards=report.cards,
        timeline=report.timeline,
        decay_curve=report.decay_curve,
        base=base,
        mlflow=mlflow_url.rstrip("/"),
        docs=docs_url(base, status.quality.docs_path) if status.quality else None,
        ledger=[(entry, _comparison(entry.metrics)) for entry in status.ledger],
    )


def error_html(status: int, message: str, base: str) -> str:
    """A page that says why a request was refused."""
    return render("models_page/error.html", title="Models", status=status, message=message, base=base)


@dataclass(frozen=True)
class _Comparison:
    """A decision's holdout metrics: the metric names, and per side (challenger, champion) its values."""

    names: list[str]
    sides: list[tuple[str, dict[str, Any]]]


def _comparison(metrics: dict[str, Any]) -> _Comparison:
    sides = [
        (side, metrics[side])
        for side in ("challenger", "champion")
        if isinstance(metrics.get(side), dict) and metrics[side]
    ]
    return _Comparison(sorted({name for _, values in sides for name in values}), sides)
