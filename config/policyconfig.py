"""Build the policy-register environment: document kinds and interpretation forms from
``policies.toml``, the working-day calendar and the clock rules."""

from __future__ import annotations

from config.clockconfig import load_calendar, load_clock_rules
from config.loader import ConfigFileError, config_path, load_toml
from config.settings import Settings
from ledger.policies.register import PolicyEnv


def _strings(cfg: dict, key: str) -> tuple[str, ...]:
    value = cfg.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"policies.toml {key}: 应为非空文字列表")
    return tuple(v.strip() for v in value)


def load_policy_env(settings: Settings) -> PolicyEnv:
    """Kinds, forms, calendar and clock rules, as the policy services take them."""
    cfg = load_toml("policies.toml", settings)
    try:
        kinds, forms = _strings(cfg, "kinds"), _strings(cfg, "forms")
    except ValueError as exc:
        raise ConfigFileError(f"{config_path('policies.toml', settings)}: {exc}") from exc
    return PolicyEnv(kinds=kinds, forms=forms, calendar=load_calendar(settings), rules=load_clock_rules(settings),
                     default_kind=kinds[0])
