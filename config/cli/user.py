"""CLI: dashboard users (``yuqing user add | list | passwd | disable | enable | unlock | role``).

Every change but ``add`` ends the user's open dashboard sessions."""

from __future__ import annotations

import sys

import typer

from config.cli.common import fail, iso_local, open_engine, print_json
from ledger.types import utcnow

user_app = typer.Typer(help="用户管理 (dashboard users).", no_args_is_help=True)


def _password(password: str | None, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password:
        return password
    return typer.prompt("密码 (password)", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def add_cmd(
    username: str = typer.Option(..., "--username", help="登录名"),
    role: str = typer.Option(..., "--role", help="值班员 | 责任单位 | 领导 | 管理员"),
    unit: str | None = typer.Option(None, "--unit", help="责任单位名称（责任单位用户必填）"),
    name: str = typer.Option("", "--name", help="显示名"),
    password: str | None = typer.Option(None, "--password", help="密码（建议用 --password-stdin）"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码"),
    can_see_pii: bool = typer.Option(False, "--can-see-pii", help="允许查看未脱敏的个人号码"),
) -> None:
    """新建看板用户 (create a dashboard user)."""
    from ledger.db import session_scope
    from ledger.users import UserError, add_user

    pw = _password(password, password_stdin)
    engine = open_engine()
    try:
        with session_scope(engine) as session:
            user = add_user(session, username=username, password=pw, role=role, unit=unit, display_name=name,
                            can_see_pii=can_see_pii, now=utcnow(), actor="cli")
            uid = user.id
    except UserError as exc:
        fail(str(exc), code=2)
    typer.echo(str(uid))


@user_app.command("passwd")
def passwd_cmd(
    username: str = typer.Argument(..., help="登录名"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="从标准输入读取密码"),
) -> None:
    """重设密码并解除锁定，结束该用户已打开的会话 (reset a password, unlock, end open sessions)."""
    from ledger.db import session_scope
    from ledger.users import UserError, set_password

    pw = _password(None, password_stdin)
    try:
        with session_scope(open_engine()) as session:
            set_password(session, username=username, password=pw, now=utcnow(), actor="cli")
    except UserError as exc:
        fail(str(exc), code=2)
    typer.echo("密码已更新 (password updated)")


def _account_change(username: str, change, done: str, **kwargs) -> None:
    from ledger.db import session_scope
    from ledger.users import UserError

    try:
        with session_scope(open_engine()) as session:
            change(session, username=username, now=utcnow(), actor="cli", **kwargs)
    except UserError as exc:
        fail(str(exc), code=2)
    typer.echo(f"{done}：{username}（其已打开的看板会话已结束）")


@user_app.command("disable")
def disable_cmd(username: str = typer.Argument(..., help="登录名")) -> None:
    """停用账号并结束其会话 (disable an account; its sessions end at once)."""
    from ledger.users import set_active

    _account_change(username, set_active, "已停用", active=False)


@user_app.command("enable")
def enable_cmd(username: str = typer.Argument(..., help="登录名")) -> None:
    """重新启用账号 (enable a disabled account)."""
    from ledger.users import set_active

    _account_change(username, set_active, "已启用", active=True)


@user_app.command("unlock")
def unlock_cmd(username: str = typer.Argument(..., help="登录名")) -> None:
    """解除登录锁定 (lift a lock-out after failed sign-ins)."""
    from ledger.users import unlock

    _account_change(username, unlock, "已解除锁定")


@user_app.command("role")
def role_cmd(
    username: str = typer.Argument(..., help="登录名"),
    role: str = typer.Argument(..., help="值班员 | 责任单位 | 领导 | 管理员"),
    unit: str | None = typer.Option(None, "--unit", help="责任单位名称（改为责任单位时必填）"),
) -> None:
    """修改角色（及单位），结束其会话 (change the role; the user signs in again)."""
    from ledger.users import set_role

    _account_change(username, set_role, f"角色已改为 {role}", role=role, unit=unit)


@user_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """列出用户 (list users)."""
    from ledger.db import session_scope
    from ledger.users import list_users

    with session_scope(open_engine()) as session:
        rows = [{"id": u.id, "username": u.username, "name": u.display_name, "role": u.role, "unit": u.unit,
                 "active": u.active, "locked_until": iso_local(u.locked_until),
                 "last_login_at": iso_local(u.last_login_at)} for u in list_users(session)]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['id']:>3} {r['username']:<12} {r['role']:<4} {r['unit'] or '-'}")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
