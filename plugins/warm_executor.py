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
    multiprocessing starts processes here, or an import started a thread (which a fork would not carry), it
    says so in the scheduler's log and runs as the stock LocalExecutor does.
    """

    def start(self) -> None:
        """Import the heavy libraries, then start as the LocalExecutor does."""
        if self.is_mp_using_fork:
            from pipelines.jobs.warm_imports import preload

            if threads := preload():
                self.log.warning(
                    "importing the pipeline's libraries started threads %s: a forked task does not get them", threads
                )
            else:
                self.log.info("the pipeline's libraries are imported: tasks forked from this executor start warm")
        else:
            self.log.warning("multiprocessing does not fork here: tasks import the pipeline's libraries themselves")
        super().start()
