"""CLI area 'alerts': list alerts, acknowledge them, deliver the notification outbox."""

from __future__ import annotations

import getpass

import typer

import config.alerting  # noqa: F401  (registers the alert context used by case events)
from config.cli.common import fail, iso_local, open_engine, parse_now, print_json, settings

alerts_app = typer.Typer(help="预警: 查看、确认预警，投递通知 (alerts, acknowledgement, outbox delivery).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(alerts_app, name="alerts")


@alerts_app.command("list")
def list_cmd(
    state: str = typer.Option("active", "--state", help="active (未解除) | open | acknowledged | resolved | all"),
    as_json: bool = typer.Option(False, "--json", help="JSON 输出 (each alert with its id)"),
    limit: int = typer.Option(200, "--limit", min=1),
) -> None:
    """列出预警 (默认: 未解除的)。List alerts (default: not resolved)."""
    from ledger.alerts.escalation import alert_to_dict, list_alerts
    from ledger.db import session_scope

    if state not in ("active", "open", "acknowledged", "resolved", "all"):
        fail(f"--state 无效: {state}", code=2)
    engine = open_engine(settings())
    with session_scope(engine) as session:
        rows = [alert_to_dict(a) for a in list_alerts(session, state=None if state == "all" else state, limit=limit)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("没有预警 (no alerts)")
        return
    for r in rows:
        typer.echo(f"#{r['id']}  [{r['state_label']}] 第{r['step']}级  {r['grade'] or '—'}  {r['title']}  "
                   f"({r['trigger']}, {iso_local(r['opened_at'])})")


@alerts_app.command("ack")
def ack_cmd(
    alert_id: int = typer.Argument(..., help="预警编号 (alert id)"),
    by: str | None = typer.Option(None, "--by", help="确认人 (default: current user)"),
    now: str | None = typer.Option(None, "--now", help="确认时间 ISO 8601 (default: now)"),
) -> None:
    """确认预警: 停止升级 (确认不等于解除)。Acknowledge an alert: escalation stops; it is not resolved."""
    from ledger.alerts.escalation import AlertError, acknowledge
    from ledger.db import session_scope

    when = parse_now(now)
    engine = open_engine(settings())
    try:
        with session_scope(engine) as session:
            alert = acknowledge(session, alert_id=alert_id, by=by or getpass.getuser(), now=when, via="cli")
            typer.echo(f"预警 #{alert.id} 已确认 (acknowledged by {alert.acknowledged_by} at "
                       f"{iso_local(alert.acknowledged_at)})")
    except AlertError as exc:
        fail(str(exc))


@alerts_app.command("deliver")
def deliver_cmd(
    now: str | None = typer.Option(None, "--now", help="以此时刻投递 ISO 8601 (default: now)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """投递待发送的通知 (发件箱)。Deliver the pending notifications of the outbox."""
    from config.alerting import deliver_outbox

    cfg = settings()
    engine = open_engine(cfg)
    report = deliver_outbox(engine, cfg, parse_now(now))
    if as_json:
        print_json(report.as_dict())
    else:
        typer.echo(f"已发送 {report.sent}，待重试 {report.retrying}，失败 {report.failed}")
        for err in report.errors[:20]:
            typer.echo(err, err=True)


@alerts_app.command("outbox")
def outbox_cmd(
    status: str | None = typer.Option(None, "--status", help="pending | sending | sent | failed"),
    as_json: bool = typer.Option(False, "--json"),
    limit: int = typer.Option(100, "--limit", min=1),
) -> None:
    """查看发件箱 (地址中的凭据不显示)。Show the outbox (credentials in addresses hidden)."""
    from ledger.alerts.outbox import STATUS_LABELS, list_notifications, safe_destination
    from ledger.db import session_scope

    engine = open_engine(settings())
    with session_scope(engine) as session:
        rows = [{"id": n.id, "alert_id": n.alert_id, "kind": n.kind, "recipient": n.recipient,
                 "destination": safe_destination(n.destination), "subject": n.subject, "status": n.status,
                 "attempts": n.attempts, "last_error": n.last_error, "created_at": n.created_at,
                 "sent_at": n.sent_at, "next_attempt_at": n.next_attempt_at}
                for n in list_notifications(session, status=status, limit=limit)]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"#{r['id']} [{STATUS_LABELS.get(r['status'], r['status'])}] {r['recipient']} "
                   f"{r['destination']} 尝试{r['attempts']}次  {r['subject']}")
