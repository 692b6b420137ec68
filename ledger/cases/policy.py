"""The case workflow as data: grades, statuses and allowed moves, disposal types and what each must
publish before a case may close, release kinds, review steps (三审 + 保密审查), referral targets,
commitment statuses, and which clocks each recorded act stops.

Parsed from ``cases.toml`` (see ``config/defaults/cases.toml``) by :meth:`CasePolicy.from_config`.
Pure: no I/O; the configuration is passed in as a plain dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class CasePolicyError(ValueError):
    """``cases.toml`` is invalid; the message names the key."""


@dataclass(frozen=True)
class DisposalRule:
    """What a disposal type (分类处置) must publish, and which referrals it needs, to close."""

    name: str
    must: str
    publish: tuple[str, ...]
    referral_to: tuple[str, ...] = ()
    referral_match: str = "any"
    referral_only_if_illegal: bool = False  # the referral is required only for a case marked 涉嫌违法


@dataclass(frozen=True)
class ReviewPolicy:
    """Who may pass the review steps of a release (``[review]`` in ``cases.toml``)."""

    distinct_reviewers: bool = True
    leader_steps: tuple[str, ...] = ("终审",)
    leader_user_roles: tuple[str, ...] = ("领导",)
    leader_roster_roles: tuple[str, ...] = ("分管领导", "主要负责人", "分管负责人")
    privacy_step: str | None = "保密审查"


@dataclass(frozen=True)
class CasePolicy:
    grades: tuple[str, ...]
    statuses: tuple[str, ...]
    transitions: Mapping[str, tuple[str, ...]]
    disposal: Mapping[str, DisposalRule]
    release_kinds: tuple[str, ...]
    review_steps: tuple[str, ...]
    referral_targets: tuple[str, ...]
    commitment_statuses: tuple[str, ...]
    commitment_fulfilled: str
    commitment_public: str
    clock_links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    assign_needs_unit: bool = True
    responded_needs_release: bool = True
    close_needs_commitments_done: bool = False
    review: ReviewPolicy = field(default_factory=lambda: ReviewPolicy())
    referral_when_illegal: bool = True
    backfill_minutes: float = 30
    title_max_chars: int = 200

    @property
    def initial_status(self) -> str:
        return self.statuses[0]

    @property
    def assigned_status(self) -> str:  # 交办
        return self.statuses[2]

    @property
    def responded_status(self) -> str:  # 已回应
        return self.statuses[4]

    @property
    def closed_status(self) -> str:  # 办结
        return self.statuses[5]

    @property
    def archived_status(self) -> str:  # 归档
        return self.statuses[6]

    def links(self, act: str) -> tuple[str, ...]:
        return tuple(self.clock_links.get(act, ()))

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> CasePolicy:
        """Build and validate the policy from the parsed ``cases.toml``."""
        grades = _strings(cfg, "grades")
        statuses = _strings(cfg, "statuses")
        if len(statuses) != 7:
            raise CasePolicyError(
                "cases.toml statuses: 应为 7 个状态 (发现、研判、交办、处置、已回应、办结、归档 的本地名称)"
            )
        raw_tr = cfg.get("transitions")
        if not isinstance(raw_tr, Mapping):
            raise CasePolicyError("cases.toml: 缺少 [transitions]")
        transitions: dict[str, tuple[str, ...]] = {}
        for status in statuses:
            targets = raw_tr.get(status, [])
            if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
                raise CasePolicyError(f"cases.toml transitions.{status}: 应为状态列表")
            for t in targets:
                if t not in statuses:
                    raise CasePolicyError(f"cases.toml transitions.{status}: 未知状态 {t!r}")
            transitions[status] = tuple(targets)
        unknown = set(raw_tr) - set(statuses)
        if unknown:
            raise CasePolicyError(f"cases.toml transitions: 未知状态 {sorted(unknown)}")
        referral_targets = _strings(cfg, "referral_targets")
        raw_disp = cfg.get("disposal")
        if not isinstance(raw_disp, Mapping) or not raw_disp:
            raise CasePolicyError("cases.toml: 缺少 [disposal.*] 处置类型")
        disposal: dict[str, DisposalRule] = {}
        kinds: list[str] = list(_strings(cfg, "release_kinds", required=False))
        for name, raw in raw_disp.items():
            where = f"cases.toml disposal.{name}"
            if not isinstance(raw, Mapping):
                raise CasePolicyError(f"{where}: 应为表")
            publish = _strings(raw, "publish", where=where)
            referral_to = _strings(raw, "referral_to", where=where, required=False)
            for t in referral_to:
                if t not in referral_targets:
                    raise CasePolicyError(f"{where}.referral_to: {t!r} 不在 referral_targets 中")
            match = raw.get("referral_match", "any")
            if match not in ("any", "all"):
                raise CasePolicyError(f"{where}.referral_match: 应为 \"any\" 或 \"all\"")
            disposal[name] = DisposalRule(
                name=name, must=str(raw.get("must", "、".join(publish))), publish=publish,
                referral_to=referral_to, referral_match=match,
                referral_only_if_illegal=bool(raw.get("referral_only_if_illegal", False)),
            )
            kinds.extend(k for k in publish if k not in kinds)
        steps = _strings(cfg, "review_steps")
        if len(set(steps)) != len(steps):
            raise CasePolicyError("cases.toml review_steps: 步骤重复")
        cstat = _strings(cfg, "commitment_statuses")
        fulfilled = str(cfg.get("commitment_fulfilled", ""))
        public = str(cfg.get("commitment_public", ""))
        for key, value in (("commitment_fulfilled", fulfilled), ("commitment_public", public)):
            if value not in cstat:
                raise CasePolicyError(f"cases.toml {key}: {value!r} 不在 commitment_statuses 中")
        raw_links = cfg.get("clock_links", {})
        if not isinstance(raw_links, Mapping):
            raise CasePolicyError("cases.toml clock_links: 应为表")
        links = {k: _strings(raw_links, k, where="cases.toml clock_links") for k in raw_links}
        req = cfg.get("requirements", {})
        if not isinstance(req, Mapping):
            raise CasePolicyError("cases.toml requirements: 应为表")
        review = _review(cfg.get("review", {}), steps)
        backfill = cfg.get("backfill_minutes", 30)
        if not isinstance(backfill, int | float) or isinstance(backfill, bool) or backfill < 0:
            raise CasePolicyError("cases.toml backfill_minutes: 应为非负数")
        return cls(
            grades=grades,
            statuses=statuses,
            transitions=transitions,
            disposal=disposal,
            release_kinds=tuple(kinds),
            review_steps=steps,
            referral_targets=referral_targets,
            commitment_statuses=cstat,
            commitment_fulfilled=fulfilled,
            commitment_public=public,
            clock_links=links,
            assign_needs_unit=bool(req.get("assign_needs_unit", True)),
            responded_needs_release=bool(req.get("responded_needs_release", True)),
            close_needs_commitments_done=bool(req.get("close_needs_commitments_done", False)),
            review=review,
            referral_when_illegal=bool(req.get("referral_when_illegal", True)),
            backfill_minutes=float(backfill),
            title_max_chars=_title_limit(cfg.get("title_max_chars", 200)),
        )


def _review(raw: Any, steps: tuple[str, ...]) -> ReviewPolicy:
    where = "cases.toml review"
    if not isinstance(raw, Mapping):
        raise CasePolicyError(f"{where}: 应为表")
    default = ReviewPolicy()
    leader_steps = _strings(raw, "leader_steps", where=where, required=False) if "leader_steps" in raw \
        else tuple(s for s in default.leader_steps if s in steps)
    for s in leader_steps:
        if s not in steps:
            raise CasePolicyError(f"{where}.leader_steps: {s!r} 不在 review_steps 中")
    privacy = raw.get("privacy_step", default.privacy_step if default.privacy_step in steps else "")
    if privacy and privacy not in steps:
        raise CasePolicyError(f"{where}.privacy_step: {privacy!r} 不在 review_steps 中")
    return ReviewPolicy(
        distinct_reviewers=bool(raw.get("distinct_reviewers", True)),
        leader_steps=leader_steps,
        leader_user_roles=(_strings(raw, "leader_user_roles", where=where, required=False)
                           if "leader_user_roles" in raw else default.leader_user_roles),
        leader_roster_roles=(_strings(raw, "leader_roster_roles", where=where, required=False)
                             if "leader_roster_roles" in raw else default.leader_roster_roles),
        privacy_step=privacy or None,
    )


def _strings(cfg: Mapping[str, Any], key: str, *, where: str = "cases.toml",
             required: bool = True) -> tuple[str, ...]:
    value = cfg.get(key)
    if value is None and not required:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CasePolicyError(f"{where} {key}: 应为非空文字列表")
    if required and not value:
        raise CasePolicyError(f"{where} {key}: 不能为空")
    return tuple(v.strip() for v in value)


def _title_limit(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 20 <= value <= 500:
        raise CasePolicyError(f"cases.toml title_max_chars: 应为 20 到 500 之间的整数: {value!r}")
    return value
