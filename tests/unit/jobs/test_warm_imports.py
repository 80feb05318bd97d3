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
    assert "great_expectations" in HEAVY_MODULES and "xgboost" in HEAVY_MODULES
