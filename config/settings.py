"""Typed settings: environment variables (prefix ``YUQING_``) over TOML files over shipped defaults.

Precedence, highest first: keyword arguments to :func:`get_settings`, environment variables,
the file named by ``YUQING_CONFIG_FILE`` (or ``settings.toml`` in ``YUQING_CONFIG_DIR``), and
``config/defaults/settings.toml`` shipped with the package. Every field is listed in
``docs/CONFIG.md``; a test fails when one is not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """All runtime settings of 舆情台账. Field names map to ``YUQING_<NAME>`` variables."""

    model_config = SettingsConfigDict(env_prefix="YUQING_", extra="ignore")

    # --- storage ---
    data_dir: Path = Field(Path("var"), description="Directory for the SQLite file, evidence, exports")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite under data_dir")
    sqlite_busy_timeout_ms: int = Field(30000, description="SQLite busy timeout in milliseconds")
    config_dir: Path | None = Field(None, description="Directory with TOML files overriding defaults")
    config_file: Path | None = Field(None, description="settings TOML file overriding the defaults")

    # --- general ---
    timezone: str = Field("Asia/Shanghai", description="Display and local-time zone")
    log_level: str = Field("INFO", description="Logging level")
    log_file: str | None = Field(
        None, description="Log file of the service (rotated by size); default data_dir/log/yuqing.log, '-' = console only")
    log_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Size at which the log file is rotated")
    log_backups: int = Field(5, ge=0, description="Rotated log files kept (yuqing.log.1 … .N)")
    status_file: str | None = Field(
        None, description="The service's health file (jobs' last runs); default data_dir/service-status.json")

    # --- fetching ---
    http_timeout: float = Field(20.0, description="Seconds before a fetch times out")
    user_agent: str = Field("yuqing-taizhang/0.1 (+public opinion monitoring)", description="HTTP User-Agent")
    http_proxy: str | None = Field(None, description="Optional proxy URL for crawls")
    max_response_bytes: int = Field(10 * 1024 * 1024, description="Largest response accepted")
    source_down_after: int = Field(3, description="Consecutive failures before a source is marked down")
    rsshub_url: str | None = Field(
        None, description="Base URL of the office's own RSSHub instance, used by the RSSHub source templates")

    # --- service ---
    default_interval_seconds: int = Field(600, description="Poll interval of a source without its own")
    misfire_grace_seconds: int = Field(60, description="APScheduler misfire_grace_time for jobs")
    tick_interval_seconds: int = Field(60, description="How often the service runs tick")
    max_concurrent_crawls: int = Field(2, description="Crawls running at once in the service")
    crawl_time_limit_seconds: int = Field(900, description="A crawl running longer is killed")
    tick_time_limit_seconds: int = Field(
        300, ge=10, description="A tick (its child process) running longer is killed; its transaction is rolled back")
    export_time_limit_seconds: int = Field(
        1800, ge=60, description="A scheduled weekly export (its child process) running longer is killed")
    service_db_connections: int = Field(
        2, ge=1, le=20, description="Database connections the service keeps open between jobs (a burst opens more, "
        "closed after it)")
    service_sqlite_cache_kib: int = Field(
        512, ge=64, description="Page cache of each SQLite connection of the service, KiB (bounds its memory)")
    redis_url: str | None = Field(None, description="Redis URL of the shared crawl queue; set = distributed crawling")
    redis_prefix: str = Field("yuqing", description="Prefix of the Redis keys of the shared crawl queue")

    # --- analysis ---
    sentiment_engine: str = Field("default", description="'default' (shipped model), 'snownlp', or a model path")
    topic_model: str = Field(
        "default", description="Topic model of every message: 'default' (shipped model), 'none', or a model path"
    )
    import_workers: int = Field(
        -1, description="Processes preparing import batches ahead of storing; -1 = as many as the cores (max 4), 0 = none"
    )

    # --- alerts ---
    alert_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="apprise URLs receiving every notification (comma-separated)"
    )
    secret_key: str | None = Field(None, description="Key for signed acknowledgement links; from env only")
    public_base_url: str = Field("http://127.0.0.1:8501", description="Base URL used in links in messages")
    ack_link_max_age_hours: int = Field(168, description="Hours a signed acknowledgement link stays valid")
    outbox_lease_seconds: int = Field(300, description="Seconds a claimed notification is reserved for its sender")
    outbox_max_attempts: int = Field(6, description="Delivery attempts before a notification is marked failed")
    outbox_backoff_seconds: int = Field(60, description="First retry delay; doubles after each failed attempt")
    outbox_backoff_max_seconds: int = Field(3600, description="Longest retry delay")
    scheme_alert_period_minutes: int = Field(
        60, ge=1, description="Monitoring schemes: new hits of one scheme within this many minutes make one alert")
    weekly_export_cron: str = Field("0 8 * * mon", description="Crontab (local time) of the weekly ledger export")
    export_dir: Path | None = Field(None, description="Directory for generated exports; default data_dir/exports")

    # --- dashboard ---
    dashboard_port: int = Field(8501, description="Port of the Streamlit dashboard")
    session_timeout_minutes: int = Field(30, description="Idle minutes before a dashboard sign-in expires")
    login_max_failures: int = Field(
        10, description="Failed sign-ins in a row before the account locks (keep above the per-address limit)")
    login_lockout_minutes: int = Field(15, description="How long a locked account stays locked")
    login_address_max_failures: int = Field(
        5, description="Failed sign-ins from one client address before that address must wait")
    login_address_window_minutes: int = Field(
        15, description="Window of the per-address count, and how long a throttled address waits")
    login_forwarded_header: str | None = Field(
        None, description="Header naming the client address set by a trusted reverse proxy (e.g. X-Real-IP)")
    dashboard_refresh_seconds: int = Field(30, description="Auto-refresh period of the on-duty page")
    flag_sensitivity: float = Field(0.5, description="Posts at or above this sensitivity are flagged on duty")

    @field_validator("alert_urls", mode="before")
    @classmethod
    def _alert_urls(cls, value: Any) -> Any:
        return _split_commas(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        user_file = _user_settings_file()
        if user_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=user_file))
        sources.append(TomlConfigSettingsSource(settings_cls, toml_file=DEFAULTS_DIR / "settings.toml"))
        return tuple(sources)

    # --- derived values ---
    @property
    def effective_log_file(self) -> Path | None:
        if self.log_file == "-":
            return None
        return Path(self.log_file) if self.log_file else self.data_dir / "log" / "yuqing.log"

    @property
    def effective_status_file(self) -> Path:
        return Path(self.status_file) if self.status_file else self.data_dir / "service-status.json"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yuqing.db').resolve()}"


def _user_settings_file() -> Path | None:
    explicit = os.environ.get("YUQING_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    config_dir = os.environ.get("YUQING_CONFIG_DIR")
    if config_dir and (Path(config_dir) / "settings.toml").is_file():
        return Path(config_dir) / "settings.toml"
    return None


def get_settings(**overrides: Any) -> Settings:
    """Build a fresh :class:`Settings` (no module-level singleton)."""
    return Settings(**overrides)
