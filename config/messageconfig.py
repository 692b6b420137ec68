"""Message channels from ``messages.toml``: the names a citizen's message may come in by, the
other spellings accepted for them, and the source that holds hand-entered messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config.loader import ConfigFileError, config_path, load_toml
from config.settings import Settings


@dataclass(frozen=True)
class Channels:
    """The configured channels; :meth:`canonical` maps an input name to a channel or refuses it."""

    names: tuple[str, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)
    manual_source: str = "人工登记"

    def canonical(self, name: str | None) -> str:
        value = (name or "").strip()
        value = self.aliases.get(value, value)
        if value not in self.names:
            raise ValueError(f"未知渠道 {name!r}; 可选: {'、'.join(self.names)}")
        return value

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Channels:
        names = cfg.get("channels")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError("messages.toml channels: 应为非空文字列表")
        names = [n.strip() for n in names]
        if len(set(names)) != len(names):
            raise ValueError("messages.toml channels: 渠道重复")
        aliases = cfg.get("aliases", {}) or {}
        if not isinstance(aliases, Mapping):
            raise ValueError("messages.toml aliases: 应为表")  # noqa: TRY004 (a config error, reported as such)
        for alias, target in aliases.items():
            if target not in names:
                raise ValueError(f"messages.toml aliases.{alias}: {target!r} 不在 channels 中")
        manual = cfg.get("manual", {}) or {}
        source = str(manual.get("source_name", "人工登记")).strip()
        if not source:
            raise ValueError("messages.toml manual.source_name: 不能为空")
        return cls(names=tuple(names), aliases={str(k): str(v) for k, v in aliases.items()}, manual_source=source)


def load_channels(settings: Settings) -> Channels:
    """The channels in force (shipped ``messages.toml`` or the local copy)."""
    cfg = load_toml("messages.toml", settings)
    try:
        return Channels.from_config(cfg)
    except ValueError as exc:
        raise ConfigFileError(f"{config_path('messages.toml', settings)}: {exc}") from exc
