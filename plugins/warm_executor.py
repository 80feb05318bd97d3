"""Airflow's LocalExecutor with the pipeline's heavy libraries imported before its workers are forked.

Each task runs in a process forked from an executor worker, which the LocalExecutor forks from the scheduler.
Stock, every task process imports GX, MLflow, XGBoost and Matplotlib again: about 3-4 s of each 4-5 s task on
the demo window. Here the scheduler imports them once, in ``start``, before forking its workers, so every task
starts with them loaded (``pipelines.jobs.warm_imports``). Set ``AIRFLOW__CORE__EXECUTOR`` to
``warm_executor.WarmLocalExecutor``; ``make up`` does.
"""

from __future__ import annotations

from airflow.executors.local_executor import LocalExecutor


class WarmLocalExecutor(LocalExecutor):
    """The LocalExecutor, its workers forked after ``warm_imports.preload``. When forking is not how
    multiprocessing starts processes here, it says so in the scheduler's log and runs as the stock LocalExecutor
    does; when an import started a thread, which a fork makes unsafe, it says that too.
    """

    def start(self) -> None:
        """Import the heavy libraries, then start as the LocalExecutor does."""
        if self.is_mp_using_fork:
            from pipelines.jobs.warm_imports import warm_before_fork

            warm_before_fork(self.log, "executor")
        else:
            self.log.warning("multiprocessing does not fork here: tasks import the pipeline's libraries themselves")
        super().start()
