"""Which role may do what in the dashboard, and which pages each role sees."""

from __future__ import annotations

DUTY, UNIT, LEADER, ADMIN = "值班员", "责任单位", "领导", "管理员"

ACTIONS: dict[str, frozenset[str]] = {
    "open_case": frozenset({DUTY, ADMIN}),
    "status": frozenset({DUTY, UNIT, ADMIN}),
    "regrade": frozenset({DUTY, LEADER, ADMIN}),
    "assign": frozenset({DUTY, ADMIN}),
    "report": frozenset({DUTY, LEADER, ADMIN}),
    "release_draft": frozenset({DUTY, UNIT, ADMIN}),
    "review": frozenset({LEADER, ADMIN}),
    "publish": frozenset({DUTY, LEADER, ADMIN}),
    "briefing": frozenset({DUTY, ADMIN}),
    "referral": frozenset({DUTY, ADMIN}),
    "commitment": frozenset({DUTY, UNIT, ADMIN}),
    "reply_message": frozenset({DUTY, UNIT, ADMIN}),
    "add_message": frozenset({DUTY, ADMIN}),
    "policy": frozenset({DUTY, UNIT, ADMIN}),
    "ack_alert": frozenset({DUTY, LEADER, ADMIN}),
    "export": frozenset({DUTY, LEADER, ADMIN}),
    "settings": frozenset({ADMIN}),
    "manage_schemes": frozenset({DUTY, ADMIN}),
}

PAGES: dict[str, tuple[str, ...]] = {
    DUTY: ("onduty", "events", "cases", "messages", "policies", "stats", "export", "posts", "schemes"),
    UNIT: ("cases", "messages", "policies", "stats"),
    LEADER: ("onduty", "events", "cases", "policies", "stats", "export"),
    ADMIN: ("onduty", "events", "cases", "messages", "policies", "stats", "export", "posts", "schemes", "settings"),
}


def may(role: str, action: str) -> bool:
    """Whether ``role`` may take ``action``."""
    return role in ACTIONS.get(action, frozenset())
