"""A fake Linear GraphQL API (POST /graphql) for the operations the connector sends, over real HTTP.

Every document and its variables are checked against Linear's published schema
(../shared/contracts/linear/schema.graphql); a request that fails is answered 400 and recorded in
`violations`, and the `fake_linear` fixture then fails the test. Documents are then executed for
real: the root fields' arguments are coerced with graphql-core (so literals and variables both
work), each root field is answered by a resolver, and the answer is cut down to exactly the
fields the document selects, so a connector cannot read a field it did not ask for. A filter or
field the fake does not model is recorded as a violation rather than answered wrongly.

Like Linear: a personal API key goes bare in `Authorization`, an OAuth token as `Bearer`; bad
credentials get HTTP 400 with `extensions.code` AUTHENTICATION_ERROR; `issueCreate` honours the
client's `input.id` and refuses an id that already exists; `issue(id:)` accepts the UUID or the
identifier ("ENG-7"), archived and trashed issues included, and answers "Entity not found: Issue"
otherwise; `issues` leaves archived issues out unless `includeArchived`. Label names are unique
per team and workspace ignoring case, as Linear enforces. Each team has its own workflow states
(`workflowStates`), a new issue starts in the team's first unstarted state, and `issueUpdate`
takes a `stateId` of the issue's own team only.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import (
    FieldNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from graphql.execution.values import get_argument_values, get_variable_values

from tests.fake_trackers.contracts import GraphQLContract, contracts_dir, load_json
from tests.fake_trackers.linear_filters import FakeLimit, id_filter, label_matches
from tests.fake_trackers.linear_workflow import WorkflowStates
from tests.fake_trackers.server import FakeTrackerServer, Reply, Request

API_KEY = "lin_api_fake_valid"
OAUTH_TOKEN = "lin_oauth_fake_valid"
TEAM_ID = "6d0b6b2c-2f6a-4e8e-9d4b-2a7f2c1e0001"
TEAM_KEY = "ENG"
WORKSPACE = "acme"
VIEWER = {"id": "b0b0b0b0-0000-4000-8000-000000000001", "name": "Followthrough Bot"}
TEAM = {"id": TEAM_ID, "key": TEAM_KEY, "name": "Engineering"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeLinear(WorkflowStates, FakeTrackerServer):
    """Stored issues live in `issues` by id, shaped like Linear's Issue type; labels in `labels`
    by id (`team` None for workspace labels); comments in `comments` as the input sent;
    workflow states in `states` by id (each with its `team`)."""

    def __init__(self) -> None:
        super().__init__()
        self.issues: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self.teams = {TEAM_ID: TEAM}
        self.add_default_workflow(TEAM_ID)
        self._numbers = itertools.count(1)
        self._schema = GraphQLContract()
        self.contract = self._check

    # -- test helpers ----------------------------------------------------------------------

    def by_key(self, key: str) -> dict[str, Any]:
        with self.lock:
            return next(i for i in self.issues.values() if i["identifier"] == key)

    def archive(self, issue_id: str) -> None:
        """Archived, as Linear does on its own to closed issues after a team-set period."""
        with self.lock:
            self.issues[issue_id]["archivedAt"] = _now()

    def trash(self, issue_id: str) -> None:
        """Deleted by a person: in the trash (archived and `trashed`), still readable by id."""
        with self.lock:
            self.issues[issue_id].update(archivedAt=_now(), trashed=True, updatedAt=_now())

    def move(self, issue_id: str, team_id: str) -> dict[str, Any]:
        """Moved to another team: a new identifier (and URL); the id stays."""
        with self.lock:
            issue, team = self.issues[issue_id], self.teams[team_id]
            number = next(self._numbers)
            key = f"{team['key']}-{number}"
            issue.update(
                team=team,
                number=number,
                identifier=key,
                url=f"https://linear.app/{WORKSPACE}/issue/{key}/x",
                updatedAt=_now(),
            )
            return issue

    def add_label(self, name: str, team_id: str | None = TEAM_ID) -> dict[str, Any]:
        """A label that already exists on Linear (team label, or workspace label if None)."""
        with self.lock:
            label: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "name": name,
                "team": self.teams[team_id] if team_id else None,
            }
            self.labels[str(label["id"])] = label
            return label

    # -- contract and dispatch -------------------------------------------------------------

    def _check(self, request: Request) -> list[str]:
        if request.method != "POST" or request.path != "/graphql":
            return [f"{request.method} {request.path}: Linear serves only POST /graphql"]
        try:
            body = request.json()
        except ValueError:
            return ["POST /graphql: body is not JSON"]
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return ["POST /graphql: body must be an object with a `query` string"]
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return ["POST /graphql: `variables` must be an object"]
        return self._schema.violations(body["query"], variables)

    def handle(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if auth not in (API_KEY, f"Bearer {OAUTH_TOKEN}"):
            return Reply(
                400,
                {
                    "errors": [
                        {
                            "message": "Authentication required, not authenticated",
                            "extensions": {
                                "code": "AUTHENTICATION_ERROR",
                                "type": "authentication error",
                                "userError": True,
                            },
                        }
                    ]
                },
            )
        body = request.json()
        schema: GraphQLSchema = self._schema.schema
        operations = [
            d for d in parse(body["query"]).definitions if isinstance(d, OperationDefinitionNode)
        ]
        wanted = body.get("operationName")
        operation = next(
            (o for o in operations if wanted is None or (o.name and o.name.value == wanted)), None
        )
        if operation is None or (wanted is None and len(operations) > 1):
            self.violations.append("POST /graphql: cannot tell which operation to run")
            return Reply(400, {"errors": [{"message": "Unknown operation"}]})
        root = (
            schema.mutation_type if operation.operation.value == "mutation" else schema.query_type
        )
        assert root is not None
        coerced = get_variable_values(
            schema, operation.variable_definitions or (), body.get("variables") or {}
        )
        assert not isinstance(coerced, list), coerced  # the contract check already passed
        data: dict[str, Any] = {}
        try:
            for selection in operation.selection_set.selections:
                if not isinstance(selection, FieldNode):
                    raise FakeLimit("fragments at the root")
                name = selection.name.value
                resolver = getattr(self, f"_{name}", None)
                if resolver is None:
                    raise FakeLimit(f"root field {name}")
                args = get_argument_values(root.fields[name], selection, coerced)
                result = resolver(args)
                if isinstance(result, Reply):
                    return result
                alias = selection.alias.value if selection.alias else name
                data[alias] = self._project(result, selection.selection_set, name)
        except FakeLimit as exc:
            self.violations.append(f"the fake Linear does not model {exc}")
            return Reply(400, {"errors": [{"message": f"fake Linear cannot answer: {exc}"}]})
        return Reply(200, {"data": data})

    def _project(self, value: Any, selection_set: SelectionSetNode | None, where: str) -> Any:
        """`value` cut down to the fields the document selects (aliases honoured)."""
        if selection_set is None or value is None:
            return value
        if isinstance(value, list):
            return [self._project(item, selection_set, where) for item in value]
        out: dict[str, Any] = {}
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                out.update(self._project(value, selection.selection_set, where))
                continue
            if not isinstance(selection, FieldNode):
                raise FakeLimit(f"fragment spreads (in {where})")
            name = selection.name.value
            alias = selection.alias.value if selection.alias else name
            if name not in value:
                raise FakeLimit(f"field {where}.{name}")
            out[alias] = self._project(value[name], selection.selection_set, f"{where}.{name}")
        return out

    @staticmethod
    def _error(message: str, code: str, status: int = 200) -> Reply:
        return Reply(
            status,
            {
                "data": None,
                "errors": [
                    {
                        "message": message,
                        "extensions": {
                            "code": code,
                            # The field Linear's SDK reads (packages/sdk/src/error.ts).
                            "type": code.lower().replace("_", " "),
                            "userError": True,
                            "userPresentableMessage": message,
                        },
                    }
                ],
            },
        )

    def _not_found(self, entity: str) -> Reply:
        return self._error(f"Entity not found: {entity}", "INVALID_INPUT")

    # -- resolvers (arguments arrive coerced) ----------------------------------------------

    def _viewer(self, args: dict[str, Any]) -> Any:
        return {**VIEWER, "displayName": "bot", "email": "bot@example.com", "active": True}

    def _find(self, id_or_key: str) -> dict[str, Any] | None:
        return self.issues.get(id_or_key) or next(
            (i for i in self.issues.values() if i["identifier"] == id_or_key.upper()), None
        )

    def _issue(self, args: dict[str, Any]) -> Any:
        issue = self._find(args["id"])
        return self._not_found("Issue") if issue is None else issue

    def _issues(self, args: dict[str, Any]) -> Any:
        filters = args.get("filter") or {}
        if set(filters) - {"id"}:
            raise FakeLimit(f"issue filters {sorted(set(filters) - {'id'})}")
        wanted = id_filter(filters["id"]) if "id" in filters else None
        found = [
            i
            for i in self.issues.values()
            if (wanted is None or i["id"] in wanted)
            and (args.get("includeArchived") or i["archivedAt"] is None)
        ]
        first = args.get("first") or 50
        return {"nodes": found[:first], "pageInfo": {"hasNextPage": len(found) > first}}

    def _issueCreate(self, args: dict[str, Any]) -> Any:
        fields = args["input"]
        issue_id = fields.get("id") or str(uuid.uuid4())
        try:
            valid_id = uuid.UUID(issue_id).version == 4
        except ValueError:
            valid_id = False
        if not valid_id:
            return self._error("id must be a UUID v4", "INVALID_INPUT", 400)
        if issue_id in self.issues:
            return self._error("Issue with this id already exists", "INVALID_INPUT", 400)
        team = self.teams.get(fields["teamId"])
        if team is None:
            return self._not_found("Team")
        labels = []
        for label_id in fields.get("labelIds") or []:
            label = self.labels.get(label_id)
            if label is None:
                return self._not_found("IssueLabel")
            if label["team"] is not None and label["team"]["id"] != team["id"]:
                return self._error("Label belongs to another team", "INVALID_INPUT", 400)
            labels.append(label)
        number = next(self._numbers)
        key = f"{team['key']}-{number}"
        now = _now()
        issue = {
            "id": issue_id,
            "identifier": key,
            "number": number,
            "url": f"https://linear.app/{WORKSPACE}/issue/{key}/x",
            "title": fields.get("title") or "",
            "description": fields.get("description"),
            "dueDate": fields.get("dueDate"),
            "priority": fields.get("priority", 0),
            "assignee": {"id": fields["assigneeId"]} if fields.get("assigneeId") else None,
            "labels": {"nodes": labels},
            "labelIds": [label["id"] for label in labels],
            "team": team,
            "state": self._first_state(team["id"], "unstarted"),
            "completedAt": None,
            "canceledAt": None,
            "createdAt": now,
            "updatedAt": now,
            "archivedAt": None,
            "trashed": None,
        }
        self.issues[issue_id] = issue
        return {"success": True, "issue": issue, "lastSyncId": 1}

    def _issueUpdate(self, args: dict[str, Any]) -> Any:
        issue = self._find(args["id"])
        if issue is None:
            return self._not_found("Issue")
        fields = args["input"]
        for key in ("title", "description", "dueDate", "priority"):
            if key in fields:
                issue[key] = fields[key]
        if "assigneeId" in fields:
            issue["assignee"] = {"id": fields["assigneeId"]} if fields["assigneeId"] else None
        if "labelIds" in fields:
            labels = [self.labels.get(label_id) for label_id in fields["labelIds"] or []]
            if None in labels:
                return self._not_found("IssueLabel")
            issue["labels"] = {"nodes": labels}
            issue["labelIds"] = list(fields["labelIds"] or [])
        if "stateId" in fields:
            state = self.states.get(fields["stateId"] or "")
            if state is None:
                return self._not_found("WorkflowState")
            if state["team"]["id"] != issue["team"]["id"]:
                return self._error(
                    "Workflow state does not belong to the issue's team", "INVALID_INPUT", 400
                )
            self._move(issue, state)
        issue["updatedAt"] = _now()
        return {"success": True, "issue": issue, "lastSyncId": 2}

    def _issueLabels(self, args: dict[str, Any]) -> Any:
        filters = args.get("filter") or {}
        found = [label for label in self.labels.values() if label_matches(label, filters)]
        first = args.get("first") or 50
        return {"nodes": found[:first], "pageInfo": {"hasNextPage": len(found) > first}}

    def _issueLabelCreate(self, args: dict[str, Any]) -> Any:
        fields = args["input"]
        team_id = fields.get("teamId")
        if team_id is not None and team_id not in self.teams:
            return self._not_found("Team")
        clash = [
            label
            for label in self.labels.values()
            if label["name"].casefold() == fields["name"].casefold()
            and (label["team"] is None or label["team"]["id"] == team_id)
        ]
        if clash:
            return self._error(
                "Duplicate label name - Label with this name already exists in the team",
                "INVALID_INPUT",
                400,
            )
        label = {
            "id": fields.get("id") or str(uuid.uuid4()),
            "name": fields["name"],
            "team": self.teams[team_id] if team_id else None,
        }
        self.labels[label["id"]] = label
        return {"success": True, "issueLabel": label, "lastSyncId": 3}

    def _webhookCreate(self, args: dict[str, Any]) -> Any:
        webhook = {"id": str(uuid.uuid4()), "enabled": True, **args["input"]}
        self.webhooks.append(webhook)
        return {"success": True, "webhook": webhook, "lastSyncId": 4}

    def _commentCreate(self, args: dict[str, Any]) -> Any:
        fields = args["input"]
        issue = self._find(fields.get("issueId") or "")
        if issue is None:
            return self._not_found("Issue")
        self.comments.append(dict(fields))
        comment = {"id": str(uuid.uuid4()), "body": fields.get("body"), "createdAt": _now()}
        return {"success": True, "comment": comment, "lastSyncId": 5}


def issue_update_payload(
    before: dict[str, Any], after: dict[str, Any], updated_from: dict[str, Any]
) -> dict[str, Any]:
    """Linear's "Issue update" webhook (the vendor's example, from the contracts) for a fake
    issue that went from `before` to `after`; `updated_from` holds the changed fields' old
    values. The caller adds `webhookTimestamp` when it sends it."""
    payload = copy.deepcopy(load_json("linear/webhooks/issue_update.json"))
    state = after["state"]
    payload["data"].update(
        id=after["id"],
        number=after["number"],
        title=after["title"],
        teamId=TEAM_ID,
        team={k: after["team"][k] for k in ("id", "key", "name")},
        updatedAt=after["updatedAt"],
        stateId=state["id"],
        state={"id": state["id"], "name": state["name"], "type": state["type"]},
        labelIds=list(after["labelIds"]),
        labels=[{"id": x["id"], "name": x["name"]} for x in after["labels"]["nodes"]],
    )
    payload["data"].pop("identifier", None)
    payload["updatedFrom"] = {**updated_from, "updatedAt": before["updatedAt"]}
    payload["url"] = after["url"]
    return payload


@pytest.fixture
def fake_linear() -> Iterator[FakeLinear]:
    """A started FakeLinear; the test fails if any request broke Linear's schema (or asked for
    something the fake does not model)."""
    contracts_dir()  # skips on a bare clone, fails on CI
    fake = FakeLinear()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
    if fake.violations:
        pytest.fail("requests Linear would refuse:\n" + "\n".join(fake.violations))
