"""Workarounds for GX bugs that stop a valid suite from running at all."""

from __future__ import annotations

from typing import Any


def quantile_verdicts_as_bools() -> None:
    """GX's ``expect_column_quantile_values_to_be_between`` gives its verdicts (the whole and each quantile's) as
    NumPy bools, which its own validation-results store cannot write as JSON: a suite using it failed with
    ``TypeError: Object of type bool is not JSON serializable``, passing or not. They are now Python bools.
    """
    from great_expectations.expectations.core.expect_column_quantile_values_to_be_between import (
        ExpectColumnQuantileValuesToBeBetween as Quantiles,
    )

    validate = Quantiles._validate
    if hasattr(validate, "gx_validate"):
        return

    def with_bools(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = validate(self, *args, **kwargs)
        details = found.get("result", {}).get("details", {})
        if "success_details" in details:
            details["success_details"] = [bool(verdict) for verdict in details["success_details"]]
        return {**found, "success": bool(found["success"])}

    with_bools.gx_validate = validate  # type: ignore[attr-defined]
    Quantiles._validate = with_bools  # type: ignore[method-assign]
