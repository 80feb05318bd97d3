"""A process that forks task processes can import the pipeline's heavy libraries first: no thread is started."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import json, sys
from pipelines.jobs.warm_imports import HEAVY_MODULES, preload
threads = preload()
print(json.dumps({"threads": threads, "loaded": [name for name in HEAVY_MODULES if name in sys.modules]}))
"""


def test_preload_imports_every_heavy_module_and_starts_no_thread() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=300)
    found = json.loads(done.stdout.splitlines()[-1])
    from pipelines.jobs.warm_imports import HEAVY_MODULES

    assert found == {"threads": [], "loaded": list(HEAVY_MODULES)}


def test_a_thread_started_by_an_import_is_named_in_a_warning(monkeypatch, caplog) -> None:
    import logging
    import threading

    from pipelines.jobs import warm_imports

    stop = threading.Event()

    def starts_a_thread() -> list[str]:
        threading.Thread(target=stop.wait, name="telemetry", daemon=True).start()
        return ["telemetry"]

    monkeypatch.setattr(warm_imports, "preload", starts_a_thread)
    try:
        with caplog.at_level(logging.INFO):
            warm_imports.warm_before_fork(logging.getLogger("test"), "executor")
    finally:
        stop.set()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "started threads ['telemetry']" in caplog.text and "forked from this executor may hang" in caplog.text
