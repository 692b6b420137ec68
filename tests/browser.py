"""Helpers for real-browser tests: start the dashboard process and a headless Debian chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(base: str) -> bool:
    """Whether the dashboard at ``base`` answers its health check."""
    try:
        with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Wait until the dashboard started by ``proc`` answers; fail with its output if it exits."""
    deadline = time.monotonic() + timeout
    while not healthy(base):
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"dashboard did not start: {out[-2000:]}")
        time.sleep(0.5)


@contextmanager
def dashboard_server(db_url: str, *, extra_env: dict[str, str] | None = None):
    """Run ``yuqing dashboard --port P`` and wait until /_stcore/health answers."""
    port = free_port()
    env = dict(os.environ, YUQING_DATABASE_URL=db_url, **(extra_env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "config.cli.main", "dashboard", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def browser_page():
    """A page in headless Debian chromium driven by Playwright (no browser download)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (run scripts/test-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
            yield page
        finally:
            browser.close()


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(base + "/", wait_until="domcontentloaded")
    page.get_by_text("登录").first.wait_for(timeout=60_000)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
