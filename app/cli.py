"""The `followthrough` command: run the service, migrate the database, manage API tokens."""

from __future__ import annotations

import json
from typing import Annotated

import typer
import uvicorn

from app import migrate
from app.auth import service as auth_service
from app.db import make_engine, session_scope
from app.enums import Scope
from app.errors import AppError
from app.settings import get_settings

app = typer.Typer(
    help="Followthrough: postmortems whose action items get done.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tokens_app, name="tokens")


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
    typer.echo(f"Followthrough on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    typer.echo(
        "Get an admin token with: .venv/bin/followthrough tokens create --scope admin --name me"
    )
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, log_level="info")


@app.command()
def worker(
    threads: Annotated[
        int, typer.Option(min=1, max=32, help="Jobs run at once in this process")
    ] = 1,
) -> None:
    """Run sync workers without the API (scale-out on PostgreSQL: run as many as you like)."""
    import threading

    from app.sync.worker import Worker

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    workers = [Worker(engine, settings, name=None) for _ in range(threads)]
    runners = [threading.Thread(target=w.run_forever, daemon=True) for w in workers]
    for runner in runners:
        runner.start()
    typer.echo(f"{threads} sync worker thread(s) running; Ctrl-C to stop.")
    try:
        for runner in runners:
            while runner.is_alive():
                runner.join(timeout=1)
    except KeyboardInterrupt:
        for w in workers:
            w.stop()


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI document (what `make openapi` writes to openapi/openapi.json)."""
    from app.main import create_app

    typer.echo(json.dumps(create_app().openapi(), indent=2, sort_keys=True))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(get_settings().resolved_database_url(), revision)
    typer.echo(f"Database at {revision}.")


@tokens_app.command("create")
def tokens_create(
    scope: Annotated[Scope, typer.Option(help="read < write < admin")] = Scope.READ,
    name: Annotated[str, typer.Option(help="Shown in every change this token makes")] = "cli",
) -> None:
    """Create a token and print it once; only its hash is stored."""
    engine = make_engine(get_settings().resolved_database_url())
    with session_scope(engine) as session:
        token, plain = auth_service.create(session, name=name, scope=scope)
        token_id = token.id
    typer.echo(plain)
    typer.echo(
        f"Token {token_id} ({scope.value}, name {name!r}). It will not be shown again.", err=True
    )


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (never their secret part)."""
    engine = make_engine(get_settings().resolved_database_url())
    with session_scope(engine) as session:
        for token in auth_service.list_tokens(session):
            state = "revoked" if token.revoked_at else "active"
            typer.echo(f"{token.id}  {token.prefix}…  {token.scope:<5}  {state:<7}  {token.name}")


@tokens_app.command("revoke")
def tokens_revoke(token: Annotated[str, typer.Argument(help="Token id or name")]) -> None:
    """Revoke a token by id or name; it stops working at once."""
    engine = make_engine(get_settings().resolved_database_url())
    try:
        with session_scope(engine) as session:
            revoked = auth_service.revoke(session, token)
            typer.echo(f"Revoked {revoked.id} ({revoked.name}).")
    except AppError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
