"""Validate an edited domain TOML file before it replaces the one in force (used by the 设置 page)."""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from pathlib import Path

from config.settings import DEFAULTS_DIR, Settings

# file name → (label, validator loading it through the same code the service uses)
EDITABLE = {
    "rules.toml": "监测规则与关注领域",
    "units.toml": "单位与地名库",
    "clocks.toml": "时钟规则",
    "holidays.toml": "节假日补充",
    "escalation.toml": "预警升级",
    "cases.toml": "案件流程",
    "messages.toml": "留言渠道",
    "policies.toml": "政策解读",
}


def _validators():
    from config.alerting import alert_context
    from config.caseconfig import load_case_policy
    from config.clockconfig import load_calendar, load_clock_rules
    from config.messageconfig import load_channels
    from config.policyconfig import load_policy_env
    from config.wiring import load_gazetteer, load_rule_config

    validators = {
        "rules.toml": load_rule_config,
        "units.toml": load_gazetteer,
        "clocks.toml": load_clock_rules,
        "holidays.toml": load_calendar,
        "cases.toml": load_case_policy,
        "escalation.toml": alert_context,
        "messages.toml": load_channels,
        "policies.toml": load_policy_env,
    }
    return validators


def current_text(name: str, settings: Settings) -> tuple[str, Path]:
    """The text of the file in force and its path."""
    from config.loader import config_path

    path = config_path(name, settings)
    return path.read_text(encoding="utf-8"), path


def validate_and_save(name: str, text: str, settings: Settings) -> Path:
    """Check ``text`` as the new ``name`` (TOML syntax and the real loader) and write it into
    ``settings.config_dir``. Raises ValueError with a Chinese message; nothing is written then."""
    if name not in EDITABLE:
        raise ValueError(f"不可编辑的配置文件: {name}")
    if settings.config_dir is None:
        raise ValueError("未设置 YUQING_CONFIG_DIR，无法保存本地配置")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"TOML 格式错误: {exc}") from exc
    target_dir = Path(settings.config_dir)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        # the candidate beside copies of the other files in force, loaded by the real loader
        for other in EDITABLE:
            src = target_dir / other if (target_dir / other).is_file() else DEFAULTS_DIR / other
            if src.is_file():
                shutil.copy(src, tmp_dir / other)
        (tmp_dir / name).write_text(text, encoding="utf-8")
        candidate = settings.model_copy(update={"config_dir": tmp_dir})
        validator = _validators().get(name)
        if validator is not None:
            try:
                validator(candidate)
            except Exception as exc:
                raise ValueError(f"配置校验失败: {exc}") from exc
    target_dir.mkdir(parents=True, exist_ok=True)
    out = target_dir / name
    tmp_out = out.with_suffix(".toml.tmp")
    tmp_out.write_text(text, encoding="utf-8")
    tmp_out.replace(out)
    return out
