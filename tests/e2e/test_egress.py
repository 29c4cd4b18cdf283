"""Outbound calls cannot be turned inward, through the API, the worker and the fake trackers:
refused base URLs, names that resolve to this machine, redirects, echoed answers and crafted
ticket references. The tests' allow-list names 127.0.0.1 only (tests/conftest.py)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.settings import Settings
from connectors.egress.policy import host_problem
from tests.conftest import TEST_ALLOW_HOSTS
from tests.e2e.sync_support import connect_tracker, drain, owner, publish_items, worker_for
from tests.fake_trackers import github, jira, linear
from tests.fake_trackers.server import FakeTrackerServer, Fault

TRACKERS = ("github", "jira", "linear")
MARKER = "ZZ-INTERNAL-SECRET-7f3a"


def _connection(kind: str, fake: Any) -> tuple[dict[str, str], str]:
    if kind == "github":
        return {"token": github.TOKEN}, "acme/api"
    if kind == "jira":
        return {"email": fake.email, "api_token": fake.api_token}, "OPS"
    return {"api_key": linear.API_KEY}, linear.TEAM_ID


def connect(
    client: TestClient, kind: str, fake: Any, base_url: str | None = None
) -> dict[str, Any]:
    credentials, project = _connection(kind, fake)
    owner(client, **{kind: "alice-tracker"})
    return connect_tracker(client, kind, base_url or fake.base_url, credentials, project)


@pytest.fixture(params=TRACKERS)
def tracker(request: pytest.FixtureRequest) -> tuple[str, FakeTrackerServer]:
    kind = str(request.param)
    return kind, request.getfixturevalue(f"fake_{kind}")


def _body(kind: str, base_url: str) -> dict[str, Any]:
    credentials, project = _connection(kind, jira.FakeJira())
    return {
        "kind": kind,
        "name": f"{kind}-refused",
        "base_url": base_url,
        "credentials": credentials,
        "default_project": project,
    }


# -- saving ---------------------------------------------------------------------------------------

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://localhost:9101",
    "http://0.0.0.0:9101",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://[::1]:9101",
    "http://[::ffff:127.0.0.1]:9101",
    "http://10.0.0.8/rest",
    "http://192.168.0.10/",
    "https://bot:hunter2@github.example.com/api/v3",
    "http://bot@127.0.0.1:9101",
]


@pytest.mark.parametrize("base_url", REFUSED)
def test_saving_a_refused_base_url_is_422_on_body_base_url(
    client: TestClient, base_url: str
) -> None:
    answer = client.post("/v1/integrations", json=_body("github", base_url))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert [e["path"] for e in problem["errors"]] == ["body.base_url"]
    message = problem["errors"][0]["message"]
    if "@" not in base_url:
        assert "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS" in message
    assert client.get("/v1/integrations").json()["items"] == []


@pytest.mark.parametrize("base_url", ["http://169.254.169.254/", "http://localhost:9101"])
def test_changing_base_url_to_a_refused_one_is_422_and_changes_nothing(
    client: TestClient, fake_github: github.FakeGitHub, base_url: str
) -> None:
    integration = connect(client, "github", fake_github)
    answer = client.patch(f"/v1/integrations/{integration['id']}", json={"base_url": base_url})
    assert answer.status_code == 422, answer.text
    assert [e["path"] for e in answer.json()["errors"]] == ["body.base_url"]
    after = client.get(f"/v1/integrations/{integration['id']}").json()
    assert after["base_url"] == fake_github.base_url and after["credentials_configured"]


def _loopback_name() -> str | None:
    """A name for this machine that is not statically refused (not `localhost`) and resolves
    only to loopback: the host name, or another name from /etc/hosts."""
    names = [socket.gethostname()]
    try:
        with open("/etc/hosts") as hosts:
            for line in hosts:
                names += line.split("#", 1)[0].split()[1:]
    except OSError:
        pass
    for name in names:
        if name in TEST_ALLOW_HOSTS or host_problem(name) is not None:
            continue
        try:
            found = {info[4][0] for info in socket.getaddrinfo(name, 80)}
        except OSError:
            continue
        if found and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in found):
            return name
    return None


def test_a_name_that_resolves_to_loopback_passes_save_and_is_refused_when_called(
    client: TestClient, tracker: tuple[str, FakeTrackerServer]
) -> None:
    name = _loopback_name()
    if name is None:
        pytest.skip("no name for this machine other than localhost resolves to loopback here")
    kind, fake = tracker
    port = fake.base_url.rsplit(":", 1)[1]
    integration = connect(client, kind, fake, f"http://{name}:{port}")
    result = client.post(f"/v1/integrations/{integration['id']}/test")
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["ok"] is False and body["retryable"] is False
    assert f"{name.lower()} resolves to 127." in body["error"]
    assert "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS" in body["error"]
    assert fake.requests == []


# -- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["metadata", "same-fake"])
def test_a_redirect_is_not_followed_and_test_says_so(
    client: TestClient, tracker: tuple[str, FakeTrackerServer], where: str
) -> None:
    kind, fake = tracker
    integration = connect(client, kind, fake)
    target = (
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
        if where == "metadata"
        else f"{fake.base_url}/elsewhere"
    )
    fake.inject(Fault("status", status=302, headers={"Location": target}, body={"x": MARKER}))
    result = client.post(f"/v1/integrations/{integration['id']}/test")
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["ok"] is False and body["retryable"] is False
    assert "302 Found, a redirect, which is not followed" in body["error"]
    assert MARKER not in body["error"] and "169.254" not in body["error"]
    assert len(fake.requests) == 1, "the redirect was followed"


# -- answers are summarised, never echoed ---------------------------------------------------------

_ERROR_BODIES: dict[str, tuple[int, Any]] = {
    "github": (404, {"message": f"Not Found {MARKER}", "documentation_url": MARKER}),
    "jira": (404, {"errorMessages": [MARKER], "errors": {"summary": MARKER}}),
    "linear": (
        200,
        {
            "errors": [
                {
                    "message": MARKER,
                    "extensions": {"code": MARKER, "userPresentableMessage": MARKER},
                }
            ]
        },
    ),
}
_REFS = {"github": "acme/api#1", "jira": "OPS-1", "linear": "ENG-1"}
# What each error says instead: the status and our word for it.
_SUMMARY = {
    "github": "answered 404 Not Found (not found, or these credentials cannot see it)",
    "jira": "answered 404 Not Found (not found, or these credentials cannot see it)",
    "linear": "Linear answered HTTP 200 with an error: an error (refused)",
}


def _fail_everything(kind: str, fake: FakeTrackerServer) -> None:
    status, body = _ERROR_BODIES[kind]
    fake.inject(Fault("status", status=status, body=body, headers={"X-Detail": MARKER}, times=1000))


def test_what_the_tracker_answers_never_reaches_test_link_or_sync_error(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    tracker: tuple[str, FakeTrackerServer],
) -> None:
    kind, fake = tracker
    integration = connect(client, kind, fake)
    _fail_everything(kind, fake)

    tested = client.post(f"/v1/integrations/{integration['id']}/test").json()
    assert tested["ok"] is False and _SUMMARY[kind] in tested["error"]
    assert MARKER not in tested["error"]

    [item] = publish_items(client, tracker=kind)
    linked = client.post(f"/v1/action-items/{item['id']}/link", json={"ticket": _REFS[kind]})
    assert linked.status_code == 422, linked.text
    assert _SUMMARY[kind] in linked.json()["detail"]
    assert MARKER not in linked.text

    drain(worker_for(engine, settings))
    read = client.get(f"/v1/action-items/{item['id']}").json()
    assert _SUMMARY[kind] in (read["sync_error"] or ""), read
    assert MARKER not in read["sync_error"]
    assert len(fake.requests) >= 3


def test_test_names_the_status_and_what_it_means(
    client: TestClient, fake_github: github.FakeGitHub
) -> None:
    integration = connect(client, "github", fake_github)
    _fail_everything("github", fake_github)
    error = client.post(f"/v1/integrations/{integration['id']}/test").json()["error"]
    assert error == (
        "GitHub check credentials: answered 404 Not Found "
        "(not found, or these credentials cannot see it)"
    )


# -- ticket references ----------------------------------------------------------------------------

BAD_REFS = {
    "github": [
        "../..#1",
        "acme/..#1",
        "acme/api#0",
        "acme/api#-1",
        "acme/api#1/../../user",
        "acme/api/../../user#1",
        "-acme/api#1",
        "acme/api#1?x=1",
        "https://evil.example/acme/api/issues/1",
        "https://github.com/acme/api/issues/1",
        "https://127.0.0.1/acme/api/issues/1",
        "{base}/acme/api/pull/1",
        "{base}/acme/../issues/1",
        "{base}/acme/api/issues/0",
    ],
    "jira": [
        "OPS-0",
        "../OPS-1",
        "OPS-1/../../myself",
        "ops 1",
        "https://evil.example/browse/OPS-1",
        "{base}/rest/api/3/myself",
        "{base}/browse/OPS-1/../../myself",
        "{base}/browse/../OPS-1",
    ],
    "linear": [
        "ENG-0",
        "../ENG-1",
        "ENG-1/../x",
        "https://evil.example/acme/issue/ENG-1",
        "http://linear.app/acme/issue/ENG-1",
        "https://linear.app/acme/issue/ENG-0",
        "https://linear.app/acme/team/ENG-1",
    ],
}


def test_a_reference_that_is_not_the_trackers_form_is_422_and_calls_nothing(
    client: TestClient, tracker: tuple[str, FakeTrackerServer]
) -> None:
    kind, fake = tracker
    integration = connect(client, kind, fake)
    [item] = publish_items(client, tracker=kind)
    for ref in BAD_REFS[kind]:
        ticket = ref.replace("{base}", fake.base_url)
        answer = client.post(
            f"/v1/action-items/{item['id']}/link",
            json={"ticket": ticket, "integration_id": integration["id"]},
        )
        assert answer.status_code == 422, (ticket, answer.text)
        assert [e["path"] for e in answer.json()["errors"]] == ["body.ticket"], ticket
    assert fake.requests == [], [r.path for r in fake.requests]
