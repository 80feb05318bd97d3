"""The errors the pipeline raises on purpose, under one base class.

A ``PipelinesError`` is a failure the pipeline detected and can explain in one line (bad input, a source or
store that did not answer, a gate that said no). The CLI prints it as ``error: <message>``, as it does a database,
MLflow or HTTP server that failed to answer; anything else is a bug and shows its traceback. Each subclass also
keeps the built-in base it had (``ValueError``, ``RuntimeError``, ...), so callers that catch those keep working.
"""

from __future__ import annotations


class PipelinesError(Exception):
    """Base of every error the pipeline raises on purpose."""


class InputError(PipelinesError, ValueError):
    """A value given by a person (a date, a version, a scenario, a range) that cannot be used."""


class NoData(PipelinesError, ValueError):
    """A window holds no rows to work on."""
