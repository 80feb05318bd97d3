"""The libraries a retrain's stages import, imported ahead by a process that forks the processes which run them.

A stage on a small window spends most of its seconds importing GX, MLflow, XGBoost and Matplotlib. A process
that forks its workers after ``preload`` (Airflow's executor, ``plugins/warm_executor.py``; the tests' warm CLI
server) pays that once, and every process forked from it starts with them loaded. None of them starts a thread
when imported, which a fork could not carry; ``preload`` says if one does.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any, Protocol

HEAVY_MODULES = (
    "great_expectations",
    "mlflow",
    "mlflow.xgboost",
    "xgboost",
    "sklearn.metrics",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
)


class _Log(Protocol):
    """What ``warm_before_fork`` writes to: a stdlib logger, or the structlog one of Airflow's components."""

    def info(self, event: str, *args: Any) -> Any: ...

    def warning(self, event: str, *args: Any) -> Any: ...


def preload() -> list[str]:
    """Import ``HEAVY_MODULES`` (GX's INFO lines at import kept quiet); returns the names of any threads the
    imports started, which a process that forks must not have.
    """
    before = {thread.ident for thread in threading.enumerate()}
    gx_log = logging.getLogger("great_expectations")
    level = gx_log.level
    gx_log.setLevel(max(level, logging.WARNING))
    try:
        for name in HEAVY_MODULES:
            importlib.import_module(name)
    finally:
        gx_log.setLevel(level)
    return sorted(thread.name for thread in threading.enumerate() if thread.ident not in before)


def warm_before_fork(log: _Log, forker: str) -> None:
    """``preload``, then one line in ``log`` saying whether the processes this ``forker`` forks start warm."""
    if threads := preload():
        log.warning(
            "importing the pipeline's libraries started threads %s: a task forked from this %s may hang on a lock "
            "one of them held",
            threads,
            forker,
        )
    else:
        log.info("the pipeline's libraries are imported: tasks forked from this %s start warm", forker)
