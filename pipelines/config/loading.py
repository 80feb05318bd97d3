"""Reading model configs from YAML files: one file per model, named after it, in the configs folder."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from pipelines.config import settings
from pipelines.config.base import ConfigError
from pipelines.config.model import MODEL_NAME, ModelConfig


def load_config(path: Path) -> ModelConfig:
    """Parse and validate one config file; errors name the file and each bad key."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        cfg = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
    if cfg.name != path.stem:
        raise ConfigError(f"{path}: name {cfg.name!r} must match the file name {path.stem!r}")
    return cfg


def config_paths(directory: Path | None = None) -> list[Path]:
    """The config files of ``directory`` (default the configs folder), sorted by name."""
    return sorted((directory or settings.configs_dir()).glob("*.yaml"))


def load_all(directory: Path | None = None) -> list[ModelConfig]:
    """Every model config in the configs folder, sorted by name."""
    return [load_config(p) for p in config_paths(directory)]


def load_model(name: str, directory: Path | None = None) -> ModelConfig:
    """The config of one model by name, with a clear error listing the known models."""
    path = (directory or settings.configs_dir()) / f"{name}.yaml"
    if not MODEL_NAME.match(name) or not path.exists():
        known = ", ".join(p.stem for p in config_paths(directory)) or "none"
        raise ConfigError(f"unknown model {name!r} (known: {known})")
    return load_config(path)
