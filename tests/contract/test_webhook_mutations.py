"""Property: the vendors' payload examples, mutated anywhere (any value replaced by another JSON
type, an odd number, NaN, deep nesting or a huge string; keys deleted) and validly signed, are
only ever accepted (202), refused as malformed (400) or refused as unsigned or stale (401)
through the real app, and a refused delivery is stored nowhere. A 5xx fails the test (the test
client re-raises the server's exception)."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.contract.webhook_parser_support import (
    DELIVERY_EXAMPLES,
    OFFLINE_INTEGRATIONS,
    delete_at,
    fresh,
    replace_at,
    signed_headers,
    value_paths,
)
from tests.fake_trackers.contracts import load_json

SECRET = "mutation-secret"


def _nested(depth: int) -> Any:
    value: Any = "core"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


ODD_NUMBERS = [0, -1, 1e20, -1e20, 1e308, 5e-324, -0.0, 2**63, 2**53 + 1, 10**300]
ODD_TEXT = [
    "",
    " ",
    "closed",
    "done",
    "completed",
    "2026-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30",
    "OPS-1",
    "acme/api#1",
    "https://linear.app/acme/issue/ENG-7/x",
    "\u202e\ufeff",
    "😀",
]
# NUL is left out: the request guard refuses it (422) for every route before a webhook is read.
strings = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=30)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(ODD_NUMBERS),
    strings,
    st.sampled_from(ODD_TEXT),
)
values = st.one_of(
    st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(strings, children, max_size=3)
        ),
        max_leaves=10,
    ),
    st.integers(min_value=60, max_value=200).map(_nested),
    st.integers(min_value=1_000, max_value=200_000).map(lambda n: "x" * n),
)


@st.composite
def deliveries(draw: st.DrawFn, kind: str) -> tuple[str, bytes]:
    event, example = draw(st.sampled_from(DELIVERY_EXAMPLES[kind]))
    data = fresh(kind, copy.deepcopy(load_json(example)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = value_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            delete_at(data, path)
        else:
            replace_at(data, path, draw(values))
    return event, json.dumps(data).encode()


@pytest.fixture
def integrations(client: TestClient) -> dict[str, str]:
    ids = {}
    for kind, fields in OFFLINE_INTEGRATIONS.items():
        body = {"kind": kind, "name": f"{kind}-mutations", "webhook_secret": SECRET, **fields}
        created = client.post("/v1/integrations", json=body)
        assert created.status_code == 201, created.text
        ids[kind] = created.json()["id"]
    return ids


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM webhook_delivery")).scalar_one())


@pytest.mark.parametrize("kind", sorted(OFFLINE_INTEGRATIONS))
def test_mutated_signed_deliveries_are_202_400_or_401_and_refused_ones_store_nothing(
    client: TestClient,
    engine: Engine,
    integrations: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.WARNING)
    seen: set[int] = set()

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(delivery=deliveries(kind))
    def post(delivery: tuple[str, bytes]) -> None:
        event, body = delivery
        before = _stored(engine)
        response = client.post(
            f"/v1/webhooks/{integrations[kind]}",
            content=body,
            headers=signed_headers(kind, event, body, SECRET),
        )
        assert response.status_code in (202, 400, 401), response.text
        seen.add(response.status_code)
        if response.status_code == 202:
            assert _stored(engine) == before + 1
            return
        assert _stored(engine) == before, "a refused delivery was stored"
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        if response.status_code == 400:
            paths = [error["path"] for error in problem["errors"]]
            assert paths and all(path.startswith(("body", "header")) for path in paths), problem

    post()
    assert 400 in seen, "the mutations never produced a malformed body"
    assert "Traceback" not in caplog.text
