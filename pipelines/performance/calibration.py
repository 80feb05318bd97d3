"""What a version is measured against after promotion, stored with it when it is trained (``db.CALIBRATIONS``):
its metrics on its own holdout (the reference for decay) and, for binary models, the isotonic calibration of
its scores on that holdout, or the identity when calibrating does not help (what CBPE estimates with).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.model.metrics import compute, finite_or_none
from pipelines.performance.cbpe import Calibration, CalibrationError, fit_calibration
from pipelines.registry import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionCalibration:
    """A version's holdout metrics and, for binary models whose holdout had both classes, its calibration."""

    holdout: dict[str, float]
    calibration: Calibration | None


def calibrate(cfg: ModelConfig, y: np.ndarray, scores: np.ndarray) -> VersionCalibration:
    """The holdout metrics of ``scores`` against ``y``, and the calibration fitted on them (binary tasks)."""
    holdout = compute(METRICS_BY_TASK[cfg.task], y, scores)
    calibration = None
    if cfg.task == "binary":
        try:
            calibration = fit_calibration(y, scores)
        except CalibrationError as exc:  # e.g. a single-class holdout: nothing can be estimated from it
            log.warning("%s: no calibration for CBPE: %s", cfg.name, exc)
    return VersionCalibration(holdout, calibration)


def save(model: str, version: int, found: VersionCalibration, engine: sa.Engine | None = None) -> None:
    """Store a version's calibration, replacing one stored before (a re-run computes the same)."""
    table = db.CALIBRATIONS
    row = {
        "model": model,
        "version": version,
        "holdout": {k: finite_or_none(v) for k, v in found.holdout.items()},
        "calibration": json.loads(found.calibration.to_json()) if found.calibration else None,
        "created_at": datetime.now(UTC),
    }
    with (engine or db.engine()).begin() as conn:
        conn.execute(table.delete().where(table.c.model == model, table.c.version == version))
        conn.execute(table.insert().values(**row))


def load(model: str, version: int, engine: sa.Engine | None = None) -> VersionCalibration | None:
    """A version's stored calibration, or None for a version trained before they were stored."""
    table = db.CALIBRATIONS
    query = sa.select(table.c.holdout, table.c.calibration).where(table.c.model == model, table.c.version == version)
    with (engine or db.engine()).connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    holdout = {k: float("nan") if v is None else float(v) for k, v in row.holdout.items()}
    calibration = Calibration.from_json(json.dumps(row.calibration)) if row.calibration else None
    return VersionCalibration(holdout, calibration)


def stored(model: str, version: int, engine: sa.Engine | None = None) -> bool:
    """Whether a version's calibration is stored."""
    table = db.CALIBRATIONS
    query = sa.select(table.c.version).where(table.c.model == model, table.c.version == version)
    with (engine or db.engine()).connect() as conn:
        return conn.execute(query).first() is not None
