"""Load the domain TOML files (rules, units, clocks, escalation, holidays): shipped default overlaid by a local copy.

A locality edits its own copy in ``YUQING_CONFIG_DIR``; a file there with the same name replaces
the shipped default as a whole (tables are not deep-merged, so a locality sees exactly what runs).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from config.settings import DEFAULTS_DIR, Settings


class ConfigFileError(ValueError):
    """A TOML file could not be read or is invalid; the message names the file."""


def config_path(name: str, settings: Settings) -> Path:
    """Return the path of ``name`` (e.g. ``"rules.toml"``) that is in force."""
    if settings.config_dir is not None:
        local = Path(settings.config_dir) / name
        if local.is_file():
            return local
    return DEFAULTS_DIR / name


def load_toml(name: str, settings: Settings) -> dict[str, Any]:
    """Read the TOML file ``name`` in force for these settings."""
    path = config_path(name, settings)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigFileError(f"配置文件不存在: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"配置文件格式错误 {path}: {exc}") from exc
