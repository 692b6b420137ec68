"""Settings: environment over TOML over defaults, and every setting documented in docs/CONFIG.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings, get_settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "CONFIG.md"


def test_every_setting_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`YUQING_{name.upper()}`" not in text]
    assert not missing, f"settings missing from docs/CONFIG.md: {missing}"


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("YUQING_DATABASE_URL", "sqlite:///" + str(tmp_path / "x.db"))
    monkeypatch.setenv("YUQING_HTTP_TIMEOUT", "3.5")
    monkeypatch.setenv("YUQING_ALERT_URLS", "json://127.0.0.1:1/a, mailto://u:p@127.0.0.1:2")
    s = get_settings()
    assert s.effective_database_url.endswith("x.db")
    assert s.http_timeout == 3.5
    assert s.alert_urls == ["json://127.0.0.1:1/a", "mailto://u:p@127.0.0.1:2"]


def test_default_database_is_sqlite_under_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("YUQING_DATABASE_URL", raising=False)
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path / "d"))
    s = get_settings()
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'yuqing.db'}"


def test_toml_file_overrides_shipped_defaults_and_env_wins(monkeypatch, tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text('http_timeout = 7.0\nlog_level = "DEBUG"\n', encoding="utf-8")
    monkeypatch.setenv("YUQING_CONFIG_FILE", str(f))
    monkeypatch.delenv("YUQING_HTTP_TIMEOUT", raising=False)
    monkeypatch.setenv("YUQING_LOG_LEVEL", "WARNING")
    s = get_settings()
    assert s.http_timeout == 7.0
    assert s.log_level == "WARNING"


def test_bad_value_is_refused(monkeypatch):
    monkeypatch.setenv("YUQING_MAX_CONCURRENT_CRAWLS", "many")
    with pytest.raises(ValueError):
        get_settings()


def test_each_call_builds_fresh_settings(monkeypatch):
    monkeypatch.setenv("YUQING_LOG_LEVEL", "ERROR")
    a = get_settings()
    monkeypatch.setenv("YUQING_LOG_LEVEL", "INFO")
    assert get_settings().log_level == "INFO" and a.log_level == "ERROR"
