"""Run the real ``yuqing`` command in a child process with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*args: str, db_url: str | None = None, stdin: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120, cwd: str | None = None) -> Result:
    full_env = dict(os.environ)
    full_env.pop("YUQING_CONFIG_DIR", None)
    if db_url:
        full_env["YUQING_DATABASE_URL"] = db_url
    if env:
        full_env.update(env)
    proc = subprocess.run([sys.executable, "-m", "config.cli.main", *args], input=stdin, capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd)
    return Result(proc.returncode, proc.stdout, proc.stderr)
