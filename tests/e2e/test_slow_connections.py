"""Slow and piled-up connections against the app served as `followthrough serve` serves it
(the same uvicorn options), over real sockets: a stalled head is closed, a stalled body gets
408, and connections past the cap get 503. Timeouts are about a second here."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from app.connection_limits import PROTOCOLS, server_options
from app.main import create_app
from app.settings import RequestLimits, Settings
from tests.conftest import serving

TIMEOUT = 1.0


@pytest.fixture
def serve(settings: Settings) -> Iterator[Callable[..., str]]:
    """Serve a fresh app with the given limits; returns "host:port"."""
    stack = contextlib.ExitStack()
    apps: list[FastAPI] = []

    def start(http: str = "httptools", **limits: Any) -> str:
        values = {
            "header_timeout_seconds": TIMEOUT,
            "body_timeout_seconds": TIMEOUT,
            "keep_alive_seconds": 5,
            **limits,
        }
        chosen = RequestLimits(**values)
        app = create_app(settings.model_copy(update={"limits": chosen}))
        apps.append(app)
        url = stack.enter_context(serving(app, **server_options(chosen, http=http)))
        return urlsplit(url).netloc

    with stack:
        yield start
    for app in apps:
        app.state.engine.dispose()


def connect(netloc: str) -> socket.socket:
    host, port = netloc.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def request(netloc: str, path: str = "/healthz") -> bytes:
    with connect(netloc) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        return read_until_closed(sock)


@pytest.mark.parametrize("http", sorted(PROTOCOLS))
def test_a_stalled_head_is_closed_within_the_timeout(serve: Callable[..., str], http: str) -> None:
    netloc = serve(http=http)
    with connect(netloc) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: hal")
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        elapsed = time.monotonic() - started
    assert TIMEOUT - 0.2 < elapsed < TIMEOUT + 1.0
    assert request(netloc).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("http", sorted(PROTOCOLS))
def test_a_head_dribbled_after_a_keep_alive_answer_is_closed(
    serve: Callable[..., str], http: str
) -> None:
    netloc = serve(http=http)
    with connect(netloc) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        # Each byte would reset a keep-alive timer; only the head deadline ends this.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for byte in b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaa":
                sock.send(bytes([byte]))
                time.sleep(0.2)
                if time.monotonic() - started > TIMEOUT + 2:
                    break
        sock.settimeout(1)
        assert read_until_closed(sock) == b""
        assert time.monotonic() - started < TIMEOUT + 1.5


def test_a_stalled_body_gets_408(serve: Callable[..., str]) -> None:
    netloc = serve()
    with connect(netloc) as sock:
        sock.sendall(
            b"POST /v1/postmortems HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"title": "half a bo'
        )
        started = time.monotonic()
        answer = read_until_closed(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive within 1 s" in answer
    assert TIMEOUT - 0.2 < elapsed < TIMEOUT + 1.0


def test_connections_past_the_cap_get_503(serve: Callable[..., str]) -> None:
    netloc = serve(max_connections=3, header_timeout_seconds=10)
    with contextlib.ExitStack() as held:
        for _ in range(2):
            held.enter_context(connect(netloc))
        time.sleep(0.2)
        assert request(netloc).startswith(b"HTTP/1.1 200")
        held.enter_context(connect(netloc))
        time.sleep(0.2)
        assert request(netloc).startswith(b"HTTP/1.1 503")
    time.sleep(0.2)
    assert request(netloc).startswith(b"HTTP/1.1 200")
