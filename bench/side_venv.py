"""A virtual environment of its own for a library that cannot live beside the pinned stack (Evidently, NannyML
need pandas<3), created once under ``.local/`` and reused while its stamp file exists.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def ensure_venv(folder: Path, packages: list[str]) -> Path:
    """The venv's python, with ``packages`` installed on first use; exits with pip's error when that fails."""
    python = folder / "bin" / "python"
    stamp = folder / ".installed"
    if stamp.exists():
        return python
    print(f"creating {folder} with {' '.join(packages)} ...", flush=True)
    base = shutil.which("python3.11") or sys.executable
    for command in (
        [base, "-m", "venv", "--clear", str(folder)],
        [str(python), "-m", "pip", "install", "--quiet", *packages],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    stamp.touch()
    return python
