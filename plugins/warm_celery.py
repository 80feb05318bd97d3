"""Airflow's Celery configuration with the pipeline's heavy libraries imported before a worker forks its pool.

A Celery worker runs each task in a process forked from one of its pool's processes, which it forks at start.
Stock, every task imports GX, MLflow, XGBoost and Matplotlib again; here the worker imports them once, when
Celery's ``worker_init`` signal fires (before the pool starts), so every task starts with them loaded
(``pipelines.jobs.warm_imports``). Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS`` to
``warm_celery.CELERY_CONFIG``; ``make up`` and ``docker-compose.yml`` do. The scheduler, which sends the tasks,
reads the same configuration; the signal never fires there.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

log = logging.getLogger(__name__)

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)
"""The provider's defaults, unchanged: this module is named for the signal it connects."""


@worker_init.connect
def _preload(**_: Any) -> None:
    from pipelines.jobs.warm_imports import warm_before_fork

    warm_before_fork(log, "worker")
