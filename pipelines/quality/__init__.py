"""The quality gate: Great Expectations suites over a snapshot, whole-window and per-day.

- ``gate``: ``validate`` a snapshot (suite and per-day checks), where its report is saved, and the saved report.
- ``report``: ``CheckResult``, ``QualityReport`` and ``QualityGateFailed``, what the gate reports.
- ``suites``: a model's suite from ``expectations/``, its unique-key check, the generated ``<suite>__daily`` suite.
- ``day_checks``: the per-day aggregate of a snapshot, with the bounds each day's statistics must lie within.
- ``gx_runner``: ``run_suite`` through an ephemeral GX context: suites from their JSON, checkpoints, Data Docs.
- ``gx_views``: GX's Data Docs page views with their templates compiled once per process.
- ``gx_results``: GX validation results turned into a ``QualityReport``.
- ``gx_shortcuts``: narrow overrides of GX internals (batch fingerprint, ``Decimal`` scan, whole-frame copies per
  column metric) that cost time or memory for nothing.
- ``gx_fixes``: workarounds for GX bugs that stop a valid suite from running (quantile verdicts as NumPy bools).
"""
