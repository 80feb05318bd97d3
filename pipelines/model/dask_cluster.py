"""Reaching the Dask cluster of engine ``dask``: the scheduler's address, a connection that either works within
a bounded wait or fails in one line, and running a function on every partition of a frame there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pipelines.config.model import ModelConfig
from pipelines.errors import PipelinesError

SCHEDULER_ENV = "PIPELINES_DASK_SCHEDULER"
TIMEOUT_ENV = "PIPELINES_DASK_CONNECT_TIMEOUT"
DEFAULT_TIMEOUT = 10.0


class DaskEngineError(PipelinesError, RuntimeError):
    """The Dask engine cannot run: no scheduler is configured, or none answers at its address."""


def scheduler_address(cfg: ModelConfig) -> str:
    """``PIPELINES_DASK_SCHEDULER``, else the config's ``training.scheduler``; DaskEngineError when neither is set."""
    address = os.environ.get(SCHEDULER_ENV) or cfg.training.scheduler
    if not address:
        raise DaskEngineError(
            f"model {cfg.name!r} trains with engine dask but no scheduler is set: "
            f"give training.scheduler (tcp://host:8786) or {SCHEDULER_ENV}"
        )
    return address


def connect_timeout() -> float:
    """Seconds to wait for the scheduler: ``PIPELINES_DASK_CONNECT_TIMEOUT``, default 10."""
    text = os.environ.get(TIMEOUT_ENV) or str(DEFAULT_TIMEOUT)
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise DaskEngineError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


@contextmanager
def connected(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``address``, current inside the block (xgboost.dask looks
    it up), closed after it.

    DaskEngineError when nothing there answers as a Dask scheduler within ``connect_timeout()`` seconds, or
    when it has no worker within as long again. The scheduler is asked who it is before a client is made: a
    client that fails to connect leaves an object whose clean-up waits twice the timeout more and prints a
    traceback.
    """
    from distributed import Client

    timeout = connect_timeout()
    _identify(address, timeout)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, ValueError) as exc:
        raise DaskEngineError(f"the Dask scheduler at {address} did not answer: {_one_line(exc)}") from exc
    try:
        _wait_for_a_worker(client, address, timeout)
        with client.as_current():
            yield client
    finally:
        client.close()


def each_partition(client: Any, frame: Any, fn: Callable[..., Any], *args: Any) -> list[Any]:
    """``fn(partition, *args)`` for every partition of the Dask ``frame``, run on the cluster; the results in
    partition order. Pass large arguments (a model) as futures (``client.scatter``), not by value.
    """
    from dask import delayed

    tasks = [delayed(fn)(partition, *args) for partition in frame.to_delayed()]
    return list(client.gather(client.compute(tasks)))


def placed(client: Any, frame: Any) -> Any:
    """``frame`` computed on the cluster with partition ``i`` held by worker ``i mod n`` (workers in address
    order), every partition where it was placed: xgboost.dask trains each worker on the rows it holds, so the
    same data on a cluster of the same size trains the same model, run after run. A partition that failed raises
    its own error here (xgboost.dask would only assert that it did not).
    """
    import dask.dataframe as dd
    from distributed import wait

    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    futures = [
        client.compute(part, workers=[workers[i % len(workers)]], allow_other_workers=False)
        for i, part in enumerate(frame.to_delayed())
    ]
    wait(futures)
    for future in futures:
        if future.status == "error":
            future.result()
    return dd.from_delayed(futures, meta=frame._meta, verify_meta=False)


def _wait_for_a_worker(client: Any, address: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as exc:  # distributed's WorkerStartTimeoutError is one
        raise DaskEngineError(f"the Dask scheduler at {address} has no workers (waited {timeout:g} s)") from exc


def _identify(address: str, timeout: float) -> None:
    """DaskEngineError unless a Dask scheduler at ``address`` says who it is within ``timeout`` seconds."""
    from distributed.comm import connect

    async def identity() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        answer = asyncio.run(asyncio.wait_for(identity(), timeout))
    except Exception as exc:  # refused, timed out, a bad address, or a server speaking another protocol
        raise DaskEngineError(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({_one_line(exc)}); "
            f"check training.scheduler or {SCHEDULER_ENV}, or wait longer with {TIMEOUT_ENV}"
        ) from exc
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        raise DaskEngineError(f"{address} answered, but not as a Dask scheduler")


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())
