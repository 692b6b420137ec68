"""Entry point of the ``yuqing`` command: builds the Typer app from the area modules."""

from __future__ import annotations

import importlib
import sys

import typer

from config.cli.common import CliError

# Each module defines ``register(app)``; the order is the order of ``yuqing --help``.
AREA_MODULES = (
    "config.cli.db",
    "config.cli.source",
    "config.cli.crawl",
    "config.cli.posts",
    "config.cli.scheme",
    "config.cli.analyze",
    "config.cli.imports",
    "config.cli.model",
    "config.cli.events",
    "config.cli.due",
    "config.cli.messages",
    "config.cli.case",
    "config.cli.policy",
    "config.cli.tick",
    "config.cli.alerts",
    "config.cli.export",
    "config.cli.duty",
    "config.cli.user",
    "config.cli.service",
    "config.cli.ops",
)


def build_app() -> typer.Typer:
    """舆情台账 — 舆情监测与回应台账 (public-opinion monitoring and response ledger)."""
    app = typer.Typer(
        name="yuqing",
        help="舆情台账: 舆情监测与回应台账命令行 (public-opinion monitoring and response ledger).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in AREA_MODULES:
        importlib.import_module(name).register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; failures become one clear line on stderr and a non-zero exit."""
    app = build_app()
    try:
        code = app(args=argv, prog_name="yuqing", standalone_mode=False)
    except CliError as exc:
        typer.echo(f"错误 (error): {exc}", err=True)
        sys.exit(exc.code)
    except typer.Abort:
        typer.echo("已中止 (aborted)", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("已中止 (interrupted)", err=True)
        sys.exit(130)
    except Exception as exc:  # usage errors (typer's click) and anything unexpected
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # ClickException / UsageError
            exc.show()
            sys.exit(exc.exit_code)
        if exc.__class__.__name__ == "Exit" and hasattr(exc, "exit_code"):
            sys.exit(exc.exit_code)
        typer.echo(f"错误 (error): {exc.__class__.__name__}: {exc}", err=True)
        sys.exit(1)
    if isinstance(code, int) and code:  # typer.Exit(code): click returns it without standalone mode
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
