"""Row ids identify an input however it was read: the same values give the same id whether a NULL elsewhere made a
column float or the rows came in another batch; a model without an entity key uses its features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config.model import ModelConfig
from pipelines.model.features import FeatureError
from pipelines.performance.predictions import row_ids

STAMPS = pd.to_datetime(["2026-03-01 10:00", "2026-03-01 11:00", "2026-03-02 09:30"])


def test_a_key_read_as_integers_or_as_floats_with_a_null_elsewhere_gives_the_same_ids(demo_cfg: ModelConfig) -> None:
    as_ints = pd.DataFrame({"event_ts": STAMPS, "customer_id": pd.Series([3, 4, 5], dtype="int64")})
    with_null = pd.DataFrame(
        {"event_ts": STAMPS.append(pd.DatetimeIndex(["2026-03-03"])), "customer_id": [3.0, 4.0, 5.0, np.nan]}
    )
    assert list(row_ids(as_ints, demo_cfg)) == list(row_ids(with_null, demo_cfg)[:3])
    assert len(set(row_ids(as_ints, demo_cfg))) == 3


def test_ids_follow_the_timestamp_and_key_not_the_order_or_the_features(demo_cfg: ModelConfig) -> None:
    frame = pd.DataFrame({"event_ts": STAMPS, "customer_id": [3, 4, 5], "age": [30.0, 40.0, 50.0]})
    shuffled = frame.iloc[[2, 0, 1]].assign(age=[1.0, 2.0, 3.0])
    assert list(row_ids(shuffled, demo_cfg)) == list(row_ids(frame, demo_cfg)[[2, 0, 1]])


def test_without_an_entity_key_the_features_identify_a_row(demo_cfg: ModelConfig) -> None:
    keyless = demo_cfg.model_copy(update={"columns": demo_cfg.columns.model_copy(update={"entity_key": None})})
    frame = pd.DataFrame({"event_ts": STAMPS, **{name: ["x", "y", "z"] for name in keyless.columns.categorical}})
    frame = frame.assign(**{name: [1.0, 2.0, 3.0] for name in keyless.columns.numeric})
    other = frame.assign(age=[1.0, 2.0, 9.0])
    assert list(row_ids(frame, keyless)[:2]) == list(row_ids(other, keyless)[:2])
    assert row_ids(frame, keyless)[2] != row_ids(other, keyless)[2]
    with pytest.raises(FeatureError, match="rows lack plan"):
        row_ids(frame.drop(columns="plan"), keyless)
