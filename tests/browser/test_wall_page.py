"""The wall page in a real browser: Debian's Chromium, driven by Playwright, against a live
server on loopback with the hand-counted history of tests/wall_history.py.

Playwright never downloads a browser here: it is pointed at the system Chromium, which
`make test` installs. A screenshot of each run is left in test-artifacts/.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import update
from sqlalchemy.engine import Engine

from app.action_items.models import ActionItem
from app.db import session_scope
from app.enums import Scope
from tests.conftest import serving
from tests.wall_history import NOW, seed

CHROMIUM = os.environ.get("FOLLOWTHROUGH_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FOLLOWTHROUGH_TEST_ARTIFACTS", "test-artifacts"))
# Without the background-networking switches Chromium keeps calling out to Google's services,
# which a closed network refuses; root needs --no-sandbox.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM}: `make test` installs Debian's chromium package "
            "(or set FOLLOWTHROUGH_CHROMIUM)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class AccessLog(logging.Handler):
    """Every line the server logs, as it would be written."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def server(app: FastAPI) -> Iterator[tuple[str, AccessLog]]:
    """The app on a loopback port with access logging on, and what it logged."""
    real_clock = app.state.clock
    app.state.clock = lambda: NOW
    log = AccessLog()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(log)
    try:
        with serving(app, log_config=None, log_level="info", access_log=True) as url:
            yield url, log
    finally:
        for logger in loggers:
            logger.removeHandler(log)
        app.state.clock = real_clock


@pytest.fixture(scope="module", autouse=True)
def _artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def console_errors() -> list[str]:
    """What the page reported as errors; a test that expects one takes it out."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    tab = context.new_page()
    tab.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: console_errors.append(str(exc)))
    yield tab
    context.close()
    # A Content-Security-Policy that blocked the page's own script or style would show here.
    assert console_errors == []


def tile(page: Page, name: str) -> str:
    return page.get_by_test_id(f"tile-{name}").locator(".number").inner_text()


def test_wall_from_a_fragment_token_shows_the_quarter(
    server: tuple[str, AccessLog],
    page: Page,
    engine: Engine,
    make_token: Callable[..., str],
    backend: str,
) -> None:
    base, log = server
    seed(engine)
    token = make_token(Scope.READ, "wall-screen")

    page.goto(f"{base}/dashboard#token={token}")

    expect(page.get_by_test_id("heading")).to_have_text("All teams · 2026 Q4")
    assert token not in page.url  # the fragment is gone from the address bar
    # Q4: PM1, PM2, PM4; items A, E, I open; B closed; C verified; F won't do; A overdue.
    counts = {name: tile(page, name) for name in ("incidents", "open", "closed", "verified")}
    assert counts == {"incidents": "3", "open": "3", "closed": "1", "verified": "1"}
    assert tile(page, "overdue") == "1"
    assert tile(page, "wont-do") == "1"
    expect(page.get_by_test_id("carried-over")).to_contain_text("1 action item, 1 overdue")

    oldest = page.get_by_test_id("oldest-title")
    expect(oldest).to_have_text("Retry budget for the card processor")
    expect(page.get_by_test_id("oldest-age")).to_have_text("99 days open")
    expect(page.get_by_test_id("oldest-owner")).to_have_text("alice")
    expect(page.get_by_test_id("oldest-ticket")).to_have_text("OPS-41")
    # "In large type": legible from across a room on a 1080p screen.
    size = oldest.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 48, size

    weeks = page.get_by_test_id("trend-week")
    expect(weeks).to_have_count(12)
    opened = [weeks.nth(i).get_attribute("data-open") for i in range(12)]
    assert opened == ["2", "2", "1", "1", "1", "3", "3", "4", "3", "4", "4", "4"]

    rows = page.get_by_test_id("team-row")
    expect(rows).to_have_count(3)
    first = [cell.strip() for cell in rows.nth(0).locator("td").all_inner_texts()]
    assert first == ["payments", "1", "1", "1", "1", "0", "1"]
    expect(page.get_by_test_id("overdue-item")).to_have_count(2)

    page.screenshot(path=ARTIFACTS / f"wall-{backend}.png", full_page=True)
    # The whole wall fits one 1080p screen: nothing to scroll to on a TV.
    assert page.evaluate("document.documentElement.scrollHeight") <= 1080

    logged = "\n".join(log.lines)
    assert "/dashboard" in logged  # access logging is on, so the next line can fail
    assert token not in logged


def test_sign_in_form_refuses_a_bad_token_then_shows_one_team(
    server: tuple[str, AccessLog],
    page: Page,
    console_errors: list[str],
    engine: Engine,
    make_token: Callable[..., str],
    backend: str,
) -> None:
    base, _ = server
    seed(engine)

    page.goto(f"{base}/dashboard?team=search")
    page.get_by_label("API token").fill("ft_wrong")
    page.get_by_role("button", name="Show the wall").click()
    expect(page.get_by_test_id("sign-in-message")).to_contain_text("unknown or revoked")
    assert [e for e in console_errors if "401" in e], console_errors  # the refusal's status
    console_errors.clear()

    page.get_by_label("API token").fill(make_token(Scope.READ))
    page.get_by_role("button", name="Show the wall").click()
    expect(page.get_by_test_id("heading")).to_have_text("search · 2026 Q4")
    # search: E open (due Dec 1, not late), F won't do; no team table on a team's wall.
    assert tile(page, "open") == "1"
    assert tile(page, "wont-do") == "1"
    assert tile(page, "overdue") == "0"
    expect(page.get_by_test_id("oldest-title")).to_have_text("Cap index rebuild concurrency")
    expect(page.get_by_test_id("teams")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / f"wall-one-team-{backend}.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()


def test_wall_reloads_itself_and_shows_new_figures(
    server: tuple[str, AccessLog], page: Page, engine: Engine, make_token: Callable[..., str]
) -> None:
    base, _ = server
    ids = seed(engine)
    page.goto(f"{base}/dashboard?refresh=5#token={make_token(Scope.READ)}")
    expect(page.get_by_test_id("tile-open").locator(".number")).to_have_text("3")

    with session_scope(engine) as session:
        session.execute(
            update(ActionItem)
            .where(ActionItem.id == ids["E"])  # type: ignore[arg-type]
            .values(status="closed", closed_at=NOW)
        )

    # No one touches the page: its own reload brings the new count.
    expect(page.get_by_test_id("tile-open").locator(".number")).to_have_text("2", timeout=15_000)
    expect(page.get_by_test_id("tile-closed").locator(".number")).to_have_text("2")
