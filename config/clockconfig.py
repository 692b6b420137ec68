"""Build the working-day calendar and the clock rules from ``holidays.toml`` and ``clocks.toml``."""

from __future__ import annotations

from config.loader import ConfigFileError, config_path, load_toml
from config.settings import Settings
from ledger.clocks.calendar import WorkCalendar, calendar_from_config
from ledger.clocks.rules import ClockRule, load_rules


def load_calendar(settings: Settings) -> WorkCalendar:
    """The calendar in force (shipped ``holidays.toml`` or the local copy)."""
    cfg = load_toml("holidays.toml", settings)
    try:
        return calendar_from_config(cfg)
    except ValueError as exc:
        raise ConfigFileError(f"{config_path('holidays.toml', settings)}: {exc}") from exc


def load_clock_rules(settings: Settings) -> list[ClockRule]:
    """The clock rules in force (shipped ``clocks.toml`` or the local copy)."""
    cfg = load_toml("clocks.toml", settings)
    try:
        return load_rules(cfg)
    except ValueError as exc:
        raise ConfigFileError(f"{config_path('clocks.toml', settings)}: {exc}") from exc
