"""The quality gate: Great Expectations suites over a snapshot, whole-window and per-day."""
