"""Build the case workflow environment (policy from ``cases.toml``, calendar, clock rules)."""

from __future__ import annotations

from config.clockconfig import load_calendar, load_clock_rules
from config.loader import ConfigFileError, config_path, load_toml
from config.settings import Settings
from ledger.cases.policy import CasePolicy
from ledger.cases.workflow import CaseEnv


def load_case_policy(settings: Settings) -> CasePolicy:
    """The case workflow in force (shipped ``cases.toml`` or the local copy)."""
    cfg = load_toml("cases.toml", settings)
    try:
        return CasePolicy.from_config(cfg)
    except ValueError as exc:
        raise ConfigFileError(f"{config_path('cases.toml', settings)}: {exc}") from exc


def load_case_env(settings: Settings) -> CaseEnv:
    """Policy, working-day calendar and clock rules, as the case services take them."""
    return CaseEnv(policy=load_case_policy(settings), calendar=load_calendar(settings),
                   rules=load_clock_rules(settings))
