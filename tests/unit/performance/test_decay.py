"""What counts as decay: below the floor, or worse than the version's own holdout by more than the tolerance, in the
metric's own direction; nothing when nothing was measured."""

from __future__ import annotations

import pytest

from pipelines.performance.decay import Basis, findings


def basis(value: float | None) -> Basis:
    return Basis("realized", value, 1050, "2026-03-02", "2026-03-08")


@pytest.mark.parametrize(
    ("metric", "value", "floor", "reference", "expected"),
    [
        ("roc_auc", 0.76, 0.70, 0.77, []),
        ("roc_auc", 0.74, 0.70, 0.77, []),  # exactly the tolerance: not decay
        ("roc_auc", 0.7399, 0.70, 0.77, ["worse than v4's holdout 0.7700"]),
        ("roc_auc", 0.65, 0.70, 0.77, ["below the floor 0.7000", "worse than v4's holdout 0.7700"]),
        ("roc_auc", 0.65, 0.70, None, ["below the floor 0.7000"]),
        ("rmse", 10.02, 12.0, 10.0, []),
        ("rmse", 13.5, 12.0, 10.0, ["above the floor 12.0000", "worse than v4's holdout 10.0000"]),
        ("roc_auc", None, 0.70, 0.77, []),
        ("roc_auc", float("nan"), 0.70, 0.77, []),
    ],
)
def test_findings_follow_the_metric_direction(metric, value, floor, reference, expected):
    found = findings(basis(value), metric, floor, reference, 0.03, version=4)
    assert len(found) == len(expected)
    for line, part in zip(found, expected, strict=True):
        assert part in line and "(1050 rows, 2026-03-02..2026-03-08)" in line
