"""The `followthrough` command: run the service, migrate the database, manage API tokens."""

from __future__ import annotations

import gc
import json
import threading
from datetime import datetime
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.engine import Engine

from app import __version__, migrate, retention
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.connection_limits import server_options
from app.db import make_engine, session_scope
from app.enums import Scope
from app.errors import AppError
from app.main import create_app
from app.metrics import serve_process_metrics
from app.settings import Settings, get_settings
from app.sync.worker import Worker

app = typer.Typer(
    help="Followthrough: postmortems whose action items get done.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema and retention.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")


def _migrated_engine(settings: Settings) -> Engine:
    """An engine on the configured database, or a one-line message and exit 1 when its schema
    is not this version's (instead of a traceback at the first missing table)."""
    engine = make_engine(settings.resolved_database_url(), settings.database_pool)
    problem = migrate.not_at_head(engine)
    if problem is not None:
        engine.dispose()
        typer.echo(problem, err=True)
        raise typer.Exit(1)
    return engine


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"followthrough {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """Followthrough: postmortems whose action items get done."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before starting")
    ] = True,
) -> None:
    """Start the HTTP API."""
    settings = get_settings()
    if migrate_first:
        migrate.upgrade(settings.resolved_database_url())
    else:
        _migrated_engine(settings).dispose()
    typer.echo(f"Followthrough on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    typer.echo(
        "Get an admin token with: .venv/bin/followthrough tokens create --scope admin --name me"
    )
    application = create_app(settings)
    # What is built by now (modules, routes, schemas) lives as long as the process: out of the
    # cyclic collector's sight, its full collections stop pausing requests (webhook p99 at 80 %
    # of peak: 134-146 ms -> 45-60 ms, bench.webhook_load).
    gc.collect()
    gc.freeze()
    application.state.freeze_gc_after_startup = True
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level="info",
        # Header and keep-alive timeouts and the connection cap, from FOLLOWTHROUGH_LIMITS__*.
        **server_options(settings.limits),
    )


@app.command()
def worker(
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Jobs run at once in this process (default FOLLOWTHROUGH_SYNC__RUNNERS, 8); "
            "each integration's max_concurrency still caps its own",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this process's sync metrics (latency, drift, budget waits) for "
            "Prometheus at http://HOST:PORT/metrics; off by default",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Interface the metrics port binds (0.0.0.0 in a container)")
    ] = "127.0.0.1",
) -> None:
    """Run sync workers without the API (scale-out on PostgreSQL: run as many as you like)."""
    settings = get_settings()
    engine = _migrated_engine(settings)
    sync_worker = Worker(engine, settings)
    runners = threads or settings.sync.runners
    if metrics_port is not None:
        try:
            serve_process_metrics(metrics_host, metrics_port)
        except OSError as exc:
            typer.echo(
                f"--metrics-port: cannot listen on {metrics_host}:{metrics_port}: {exc}", err=True
            )
            raise typer.Exit(2) from exc
        typer.echo(f"Sync metrics on http://{metrics_host}:{metrics_port}/metrics")
    # As `serve` does: what is built by now lives as long as the process.
    gc.collect()
    gc.freeze()
    main = threading.Thread(target=sync_worker.run_forever, args=(runners,), daemon=True)
    main.start()
    typer.echo(f"{runners} sync runner thread(s) running; Ctrl-C to stop.")
    try:
        while main.is_alive():
            main.join(timeout=1)
    except KeyboardInterrupt:
        sync_worker.stop()
        main.join(timeout=settings.sync.lease_seconds)


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI document (what `make openapi` writes to openapi/openapi.json)."""
    typer.echo(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(get_settings().resolved_database_url(), revision)
    typer.echo(f"Database at {revision}.")


@db_app.command("purge")
def db_purge() -> None:
    """Apply the retention policy once (FOLLOWTHROUGH_RETENTION__*), as the worker does every few
    minutes, and print what it removed."""
    settings = get_settings()
    engine = _migrated_engine(settings)
    try:
        purged = retention.purge(engine, settings.retention)
    finally:
        engine.dispose()
    for line in purged.lines():
        typer.echo(line)
    if engine.dialect.name == "sqlite":
        typer.echo(
            "SQLite reuses the freed space for new rows; the file shrinks only with VACUUM "
            "(run it once, with the service stopped, after a large first purge)."
        )


@tokens_app.command("create")
def tokens_create(
    scope: Annotated[Scope, typer.Option(help="read < write < admin")] = Scope.READ,
    name: Annotated[
        str, typer.Option(help="Unique; shown in every change this token makes")
    ] = "cli",
    team: Annotated[
        list[str] | None,
        typer.Option(
            help="Scope the token to this team's records (repeat for several); "
            "without it the token is org-wide"
        ),
    ] = None,
) -> None:
    """Create a token and print it once; only its hash is stored."""
    engine = _migrated_engine(get_settings())
    try:
        with session_scope(engine) as session:
            team_ids = auth_service.team_ids_for(session, team) if team else None
            token, plain = auth_service.create(session, name=name, scope=scope, team_ids=team_ids)
            token_id, token_name = token.id, token.name
            fields = ["name", "scope", *(["team_ids"] if token.team_ids is not None else [])]
            audit_service.record_cli(session, "token.create", token_id, fields)
    except AppError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(1) from exc
    typer.echo(plain)
    where = f"teams {', '.join(sorted(team))}" if team else "org-wide"
    typer.echo(
        f"Token {token_id} ({scope.value}, {where}, name {token_name!r}). "
        "It will not be shown again.",
        err=True,
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens, oldest first (never their secret part); times are UTC."""
    engine = _migrated_engine(get_settings())
    with session_scope(engine, read_only=True) as session:
        tokens = auth_service.list_tokens(session)
        teams = {token.id: auth_service.team_slugs_of(session, token) for token in tokens}
    rows = [("ID", "PREFIX", "SCOPE", "TEAMS", "STATE", "CREATED", "REVOKED", "NAME")]
    rows += [
        (
            str(token.id),
            f"{token.prefix}…",
            token.scope,
            "(all)" if teams[token.id] is None else ",".join(teams[token.id] or ["-"]),
            "revoked" if token.revoked_at else "active",
            _when(token.created_at),
            _when(token.revoked_at),
            token.name,
        )
        for token in tokens
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]))


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(metavar="NAME_OR_ID", help="Token name or id")],
) -> None:
    """Revoke exactly one token by name or id; it stops working at once."""
    engine = _migrated_engine(get_settings())
    try:
        with session_scope(engine) as session:
            revoked = auth_service.revoke(session, token)
            revoked_id, revoked_name = revoked.id, revoked.name
            audit_service.record_cli(session, "token.revoke", revoked_id)
    except AppError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Revoked {revoked_id} ({revoked_name}).")


if __name__ == "__main__":
    app()
