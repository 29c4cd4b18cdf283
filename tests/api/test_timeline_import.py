"""Importing an incident channel into the timeline: Slack exports and `HH:MM text` lines keep
the time each message was written and its author, so a timeline imported the day after still
reads as written during the incident."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.factories import INCIDENT_START, iso, make_postmortem
from tests.problems import MISSING, error_paths, problem


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def ts(moment: datetime, micro: str = "000200") -> str:
    return f"{int(moment.timestamp())}.{micro}"


def bare_postmortem(client: TestClient, **overrides: Any) -> dict[str, Any]:
    return make_postmortem(
        client, **{"action_items": [], "timeline": [], "decision_points": [], **overrides}
    )


def import_(
    client: TestClient, pm_id: str, body: Any, status: int = 200, **params: Any
) -> dict[str, Any]:
    if isinstance(body, str | bytes):
        content = body.encode() if isinstance(body, str) else body
        headers = {"Content-Type": "text/plain; charset=utf-8"}
    else:
        content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
    response = client.post(
        f"/v1/postmortems/{pm_id}/timeline/import",
        params=params,
        content=content,
        headers=headers,
    )
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def timeline(client: TestClient, pm_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/postmortems/{pm_id}/timeline")
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def reconstructed(client: TestClient, pm_id: str) -> bool:
    response = client.get(f"/v1/postmortems/{pm_id}/checks")
    assert response.status_code == 200, response.text
    return any(f["rule"] == "timeline-reconstructed" for f in response.json()["findings"])


def skips(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["path"], s["reason"]) for s in answer["skipped"]]


def message(moment: datetime, text: str, **fields: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts(moment), "user": "U012AB3CD", "text": text, **fields}


def slack_export(start: datetime) -> list[dict[str, Any]]:
    """A day file of a Slack export: notes, a thread reply, channel noise and a bot."""
    return [
        {
            "type": "message",
            "subtype": "channel_join",
            "ts": ts(start),
            "user": "U1",
            "text": "<@U1> has joined the channel",
        },
        message(
            start + timedelta(minutes=3),
            "checkout 5xx &gt; 5%, looking",
            user_profile={"real_name": "Alice Example", "display_name": "alice"},
        ),
        message(start + timedelta(minutes=5), "probably DNS?", username="bob"),
        message(
            start + timedelta(minutes=6),
            "not DNS: the pool size &amp; the push",
            thread_ts=ts(start + timedelta(minutes=5)),
            parent_user_id="U012AB3CD",
        ),
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B01",
            "username": "PagerDuty",
            "ts": ts(start + timedelta(minutes=2)),
            "text": "Triggered: checkout 5xx",
        },
        message(start + timedelta(minutes=7), "", files=[{"name": "graph.png"}]),
        message(start + timedelta(minutes=9), "rolling back", reactions=[{"name": "+1"}]),
    ]


# --- Slack --------------------------------------------------------------------------------


def test_a_slack_export_becomes_entries_with_their_times_and_authors(client: TestClient) -> None:
    pm = bare_postmortem(client)
    answer = import_(client, pm["id"], slack_export(INCIDENT_START), format="slack")
    assert (answer["format"], answer["imported"], answer["duplicates"]) == ("slack", 4, 0)
    assert skips(answer) == [
        ("body[0]", "channel housekeeping (channel_join)"),
        ("body[4]", "posted by a bot (include_bots=true keeps these)"),
        ("body[5]", "no text"),
    ]
    assert answer["skipped"][0]["excerpt"] == "<@U1> has joined the channel"
    entries = timeline(client, pm["id"])
    assert [(e["author"], e["text"]) for e in entries] == [
        ("Alice Example", "checkout 5xx > 5%, looking"),
        ("bob", "probably DNS?"),
        ("U012AB3CD", "not DNS: the pool size & the push"),
        ("U012AB3CD", "rolling back"),
    ]
    first = entries[0]
    written = INCIDENT_START + timedelta(minutes=3, microseconds=200)
    assert when(first["at"]) == when(first["written_at"]) == written
    assert {(e["source"], e["kind"], e["version"]) for e in entries} == {
        ("import", "observation", 1)
    }
    assert [e["id"] for e in answer["items"]] == [e["id"] for e in entries]


def test_bots_are_kept_when_asked_and_the_kind_is_chosen(client: TestClient) -> None:
    pm = bare_postmortem(client)
    answer = import_(
        client,
        pm["id"],
        slack_export(INCIDENT_START),
        format="slack",
        include_bots="true",
        kind="communication",
    )
    assert answer["imported"] == 5
    alert = answer["items"][0]
    assert (alert["author"], alert["text"], alert["kind"]) == (
        "PagerDuty",
        "Triggered: checkout 5xx",
        "communication",
    )


def test_a_conversations_history_answer_is_read_too(client: TestClient) -> None:
    pm = bare_postmortem(client)
    body = {"ok": True, "messages": [message(INCIDENT_START, "hello")], "has_more": False}
    answer = import_(client, pm["id"], body, format="slack")
    assert (answer["imported"], answer["items"][0]["text"]) == (1, "hello")


def test_importing_the_same_export_twice_adds_nothing(client: TestClient) -> None:
    pm = bare_postmortem(client)
    export = slack_export(INCIDENT_START)
    first = import_(client, pm["id"], export, format="slack")
    again = import_(client, pm["id"], export, format="slack")
    assert (again["imported"], again["duplicates"]) == (0, first["imported"])
    assert ("body[1]", "duplicate of an entry already in the timeline") in skips(again)
    assert len(timeline(client, pm["id"])) == first["imported"]
    # A later export of the same channel overlaps: only the new message is added.
    later = [*export, message(INCIDENT_START + timedelta(minutes=20), "all clear")]
    third = import_(client, pm["id"], later, format="slack")
    assert (third["imported"], [e["text"] for e in third["items"]]) == (1, ["all clear"])


def test_an_entry_tidied_up_since_it_was_imported_is_not_imported_again(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client)
    export = [message(INCIDENT_START, "probbaly DNS")]
    created = import_(client, pm["id"], export, format="slack")["items"][0]
    url = f"/v1/postmortems/{pm['id']}/timeline/{created['id']}"
    assert client.patch(url, json={"text": "probably DNS"}).status_code == 200
    again = import_(client, pm["id"], export, format="slack")
    assert (again["imported"], again["duplicates"]) == (0, 1)


def test_a_message_twice_in_one_body_is_imported_once(client: TestClient) -> None:
    pm = bare_postmortem(client)
    twice = [message(INCIDENT_START, "same"), message(INCIDENT_START, "same")]
    answer = import_(client, pm["id"], twice, format="slack")
    assert (answer["imported"], answer["duplicates"]) == (1, 1)
    assert skips(answer) == [("body[1]", "duplicate of body[0] in this import")]


def test_the_same_text_by_someone_else_or_at_another_time_is_not_a_duplicate(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client)
    body = [
        message(INCIDENT_START, "ack"),
        message(INCIDENT_START, "ack", user="U999"),
        message(INCIDENT_START + timedelta(seconds=1), "ack"),
    ]
    assert import_(client, pm["id"], body, format="slack")["imported"] == 3


def test_a_message_from_the_future_is_skipped_with_the_reason(client: TestClient) -> None:
    pm = bare_postmortem(client)
    future = datetime.now(UTC) + timedelta(hours=1)
    answer = import_(client, pm["id"], [message(future, "time traveller")], format="slack")
    assert answer["imported"] == 0
    [(path, reason)] = skips(answer)
    assert path == "body[0]"
    assert "written_at" in reason and "later than the entry reached the service" in reason


def test_a_message_without_any_author_takes_the_default_or_is_skipped(
    client: TestClient,
) -> None:
    pm = bare_postmortem(client)
    anonymous = [{"type": "message", "ts": ts(INCIDENT_START), "text": "who said this"}]
    answer = import_(client, pm["id"], anonymous, format="slack")
    assert skips(answer) == [("body[0]", "names no author and no default_author was given")]
    answer = import_(client, pm["id"], anonymous, format="slack", default_author="incident-bot")
    assert answer["items"][0]["author"] == "incident-bot"


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        (b"not json", ["body"]),
        (b'{"channel": "inc-42"}', ["body"]),
        (b'"a string"', ["body"]),
        (b"[1, []]", ["body[0]", "body[1]"]),
        (b'[{"text": "no ts"}]', ["body[0].ts"]),
        (b'[{"ts": "yesterday", "text": "x"}]', ["body[0].ts"]),
        (b'[{"ts": "1730538241.5", "text": 12}]', ["body[0].text"]),
        (b'[{"ts": "1730538241.5", "text": "x", "user_profile": "Bob"}]', ["body[0].user_profile"]),
        (b'{"messages": [{"ts": 1730538241}]}', ["body.messages[0].ts"]),
        (b"[" * 100_000, ["body"]),
        (b"\xff\xfe[]", ["body"]),
    ],
)
def test_a_body_that_is_not_a_slack_export_is_refused_naming_where(
    client: TestClient, body: bytes, paths: list[str]
) -> None:
    pm = bare_postmortem(client)
    answer = import_(client, pm["id"], body, status=422, format="slack")
    assert [e["path"] for e in answer["errors"]] == paths
    assert timeline(client, pm["id"]) == []


def test_one_bad_message_imports_nothing(client: TestClient) -> None:
    pm = bare_postmortem(client)
    body = [message(INCIDENT_START, "fine"), {"ts": "soon", "text": "broken"}]
    answer = import_(client, pm["id"], body, status=422, format="slack")
    assert [e["path"] for e in answer["errors"]] == ["body[1].ts"]
    assert timeline(client, pm["id"]) == []


def test_an_import_of_more_than_five_thousand_messages_is_refused(client: TestClient) -> None:
    pm = bare_postmortem(client)
    body = [{"ts": "1", "text": "x"}] * 5001
    answer = import_(client, pm["id"], body, status=413, format="slack")
    assert "at most 5000" in answer["detail"]
    lines = "09:00 x\n" * 5001
    assert "at most 5000" in import_(client, pm["id"], lines, status=413, format="lines")["detail"]
    assert timeline(client, pm["id"]) == []


def test_a_body_over_the_app_limit_is_refused(client: TestClient) -> None:
    pm = bare_postmortem(client)
    big = "09:00 Bob: " + "x" * 1_100_000
    problem(
        client.post(
            f"/v1/postmortems/{pm['id']}/timeline/import",
            params={"format": "lines"},
            content=big.encode(),
        ),
        413,
    )


# --- lines --------------------------------------------------------------------------------


def test_lines_are_read_on_the_given_day_in_the_given_zone(client: TestClient) -> None:
    pm = bare_postmortem(client)
    text = "\n".join(
        [
            "10:05 Bob: paged the on-call",
            "",
            "10:07:30 rollback started",
            "[10:09] - Carol Smith: it's back",
            "looks like the pool again",
            "25:10 too late",
            "10:12",
        ]
    )
    answer = import_(
        client,
        pm["id"],
        text,
        format="lines",
        timezone="Europe/Paris",
        date="2026-11-02",
        default_author="Dave",
        kind="action",
    )
    assert answer["imported"] == 3
    assert [(e["author"], e["text"], when(e["at"])) for e in answer["items"]] == [
        ("Bob", "paged the on-call", INCIDENT_START + timedelta(minutes=5)),
        ("Dave", "rollback started", INCIDENT_START + timedelta(minutes=7, seconds=30)),
        ("Carol Smith", "it's back", INCIDENT_START + timedelta(minutes=9)),
    ]
    assert all(e["written_at"] == e["at"] for e in answer["items"])
    assert {(e["kind"], e["source"]) for e in answer["items"]} == {("action", "import")}
    assert skips(answer) == [
        ("line 5", "does not start with a time (HH:MM or HH:MM:SS)"),
        ("line 6", "not a time of day"),
        ("line 7", "does not start with a time (HH:MM or HH:MM:SS)"),
    ]


def test_lines_default_to_the_incident_start_date_in_the_zone(client: TestClient) -> None:
    # 20:00 UTC on 2 November is 09:00 on 3 November in Auckland.
    start = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)
    pm = bare_postmortem(
        client,
        started_at=iso(start),
        detected_at=iso(start + timedelta(minutes=4)),
        mitigated_at=iso(start + timedelta(minutes=30)),
        resolved_at=iso(start + timedelta(minutes=40)),
    )
    answer = import_(
        client, pm["id"], "09:30 Bob: still failing", format="lines", timezone="Pacific/Auckland"
    )
    assert when(answer["items"][0]["at"]) == start + timedelta(minutes=30)
    utc = import_(client, pm["id"], "20:31 Bob: still failing", format="lines")
    assert when(utc["items"][0]["at"]) == start + timedelta(minutes=31)


def test_lines_that_cross_midnight_move_to_the_next_day(client: TestClient) -> None:
    pm = bare_postmortem(client)
    text = "23:50 Bob: paged\n23:48 Bob: (forgot) alert fired\n00:10 Bob: rolled back"
    answer = import_(client, pm["id"], text, format="lines", date="2026-11-02")
    assert [when(e["at"]) for e in answer["items"]] == [
        datetime(2026, 11, 2, 23, 48, tzinfo=UTC),
        datetime(2026, 11, 2, 23, 50, tzinfo=UTC),
        datetime(2026, 11, 3, 0, 10, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("day", "zone", "text"),
    [
        ("9999-12-31", "UTC", "23:50 Bob: paged\n00:10 Bob: rolled back"),
        ("0001-01-01", "Etc/GMT-14", "00:10 Bob: paged\n00:20 Bob: rolled back"),
    ],
)
def test_lines_at_the_ends_of_the_calendar_are_skipped_not_failed(
    client: TestClient, day: str, zone: str, text: str
) -> None:
    pm = bare_postmortem(client)
    answer = import_(client, pm["id"], text, format="lines", date=day, timezone=zone)
    assert answer["imported"] == 0
    assert [path for path, _ in skips(answer)] == ["line 1", "line 2"]


def test_a_line_naming_no_author_needs_a_default(client: TestClient) -> None:
    pm = bare_postmortem(client)
    answer = import_(client, pm["id"], "09:05 paged the on-call", format="lines")
    assert skips(answer) == [("line 1", "names no author and no default_author was given")]
    assert answer["skipped"][0]["excerpt"] == "paged the on-call"


def test_reimporting_lines_adds_nothing(client: TestClient) -> None:
    pm = bare_postmortem(client)
    text = "09:05 Bob: paged\n09:06 Bob: acked"
    assert import_(client, pm["id"], text, format="lines")["imported"] == 2
    again = import_(client, pm["id"], text + "\n09:07 Bob: rolled back", format="lines")
    assert (again["imported"], again["duplicates"]) == (1, 2)


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"format": "lines", "timezone": "Mars/Olympus"}, "query.timezone"),
        ({"format": "lines", "timezone": "../../etc/passwd"}, "query.timezone"),
        ({"format": "lines", "timezone": ""}, "query.timezone"),
        ({"format": "lines", "date": "2 Nov"}, "query.date"),
        ({"format": "lines", "kind": "rumour"}, "query.kind"),
        ({"format": "csv"}, "query.format"),
        ({}, "query.format"),
        ({"format": "lines", "default_author": " "}, "query.default_author"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    client: TestClient, params: dict[str, str], path: str
) -> None:
    pm = bare_postmortem(client)
    answer = import_(client, pm["id"], "09:05 Bob: paged", status=422, **params)
    assert [e["path"] for e in answer["errors"]] == [path]
    assert timeline(client, pm["id"]) == []


def test_lines_that_are_not_utf8_are_refused(client: TestClient) -> None:
    pm = bare_postmortem(client)
    answer = import_(
        client, pm["id"], "09:05 Zoë: hi".encode("latin-1"), status=422, format="lines"
    )
    assert [e["path"] for e in answer["errors"]] == ["body"]


def test_a_line_too_long_for_an_entry_is_skipped_with_the_reason(client: TestClient) -> None:
    pm = bare_postmortem(client)
    answer = import_(client, pm["id"], "09:05 Bob: " + "x" * 20_001, format="lines")
    [(path, reason)] = skips(answer)
    assert path == "line 1" and reason.startswith("text:")
    assert len(answer["skipped"][0]["excerpt"]) == 120


# --- the reconstructed-timeline check -----------------------------------------------------


def _resolved_a_day_ago(client: TestClient) -> tuple[dict[str, Any], datetime]:
    start = datetime.now(UTC) - timedelta(days=1, hours=2)
    pm = bare_postmortem(
        client,
        started_at=iso(start),
        detected_at=iso(start + timedelta(minutes=4)),
        mitigated_at=iso(start + timedelta(minutes=30)),
        resolved_at=iso(start + timedelta(minutes=40)),
    )
    return pm, start


def test_a_channel_imported_a_day_later_is_not_reconstructed(client: TestClient) -> None:
    pm, start = _resolved_a_day_ago(client)
    assert reconstructed(client, pm["id"])  # empty timeline
    answer = import_(client, pm["id"], slack_export(start), format="slack")
    assert answer["imported"] == 4
    assert all(e["written_during_incident"] is True for e in answer["items"])
    assert not reconstructed(client, pm["id"])


def test_lines_imported_a_day_later_are_not_reconstructed(client: TestClient) -> None:
    pm, start = _resolved_a_day_ago(client)
    text = "\n".join(
        f"{(start + timedelta(minutes=m)).strftime('%H:%M')} Bob: note {m}" for m in (3, 9, 20)
    )
    answer = import_(client, pm["id"], text, format="lines", date=start.date().isoformat())
    assert answer["imported"] == 3
    assert not reconstructed(client, pm["id"])


def test_entries_typed_in_a_day_later_are_still_reconstructed(client: TestClient) -> None:
    pm, start = _resolved_a_day_ago(client)
    for minutes in (3, 9):
        response = client.post(
            f"/v1/postmortems/{pm['id']}/timeline",
            json={
                "at": iso(start + timedelta(minutes=minutes)),
                "author": "Bob",
                "kind": "observation",
                "text": f"from memory {minutes}",
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["written_during_incident"] is False
    assert reconstructed(client, pm["id"])


def test_mostly_typed_in_later_is_still_reconstructed_despite_one_import(
    client: TestClient,
) -> None:
    pm, start = _resolved_a_day_ago(client)
    import_(client, pm["id"], [message(start + timedelta(minutes=3), "paged")], format="slack")
    for minutes in (5, 9):
        client.post(
            f"/v1/postmortems/{pm['id']}/timeline",
            json={
                "at": iso(start + timedelta(minutes=minutes)),
                "author": "Bob",
                "kind": "observation",
                "text": "from memory",
            },
        )
    assert reconstructed(client, pm["id"])


# --- access -------------------------------------------------------------------------------


def test_an_import_needs_a_write_token_and_a_postmortem(
    client: TestClient,
    anon_client: TestClient,
    app: FastAPI,
    make_token: Callable[..., str],
) -> None:
    pm = bare_postmortem(client)
    url = f"/v1/postmortems/{pm['id']}/timeline/import"
    body = json.dumps([message(INCIDENT_START, "hello")])
    problem(anon_client.post(url, params={"format": "slack"}, content=body), 401)
    with TestClient(app, headers={"Authorization": f"Bearer {make_token('read')}"}) as reader:
        problem(reader.post(url, params={"format": "slack"}, content=body), 403)
    problem(
        client.post(
            f"/v1/postmortems/{MISSING}/timeline/import", params={"format": "slack"}, content=body
        ),
        404,
    )
    assert error_paths(
        client.post(
            "/v1/postmortems/nope/timeline/import", params={"format": "slack"}, content=body
        )
    ) == ["path.postmortem_id"]
    assert timeline(client, pm["id"]) == []
