"""Named stop points at the step boundaries, for fault-injection tests.

With ``PIPELINES_STOP_AT=<name>`` in its environment, a process kills itself with SIGKILL when it reaches the
stop point of that name: no cleanup, no ``finally``, exactly like a crash or an OOM kill at that moment. Tests
set it; nothing else should.
"""

from __future__ import annotations

import os
import signal

STOP_ENV = "PIPELINES_STOP_AT"


def stop_point(name: str) -> None:
    """A step boundary called ``name``: the process dies here when ``PIPELINES_STOP_AT`` names it."""
    if os.environ.get(STOP_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
