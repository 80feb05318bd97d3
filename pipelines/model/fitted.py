"""What a training engine hands back: the fitted model and what the pipeline logs with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipelines.data.profile import Profile


@dataclass(frozen=True)
class Fitted:
    """A model fitted by one engine, with the facts about its rows that the training run records.

    ``model`` is a fitted XGBoost scikit-learn estimator (``XGBClassifier`` or ``XGBRegressor``) in this
    process, whichever engine fitted it; ``example`` is a few training rows as ``features.model_frame`` gives
    them (the logged model's input example and signature); ``profile`` is the drift reference of the training
    rows and the model's scores on them.
    """

    model: Any
    engine: str
    train_rows: int
    validation_rows: int
    holdout_rows: int
    validation_metrics: dict[str, float]
    profile: Profile
    example: pd.DataFrame
