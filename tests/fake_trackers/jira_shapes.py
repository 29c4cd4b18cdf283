"""How Jira Cloud REST v3 renders what the fake Jira stores: users, statuses, resolutions,
issues, errors and timestamps (shapes as in the v3 description's IssueBean, UserDetails,
StatusDetails and ErrorCollection)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.fake_trackers.server import Reply

CATEGORIES = {
    "new": {"id": 2, "name": "To Do", "colorName": "blue-gray"},
    "indeterminate": {"id": 4, "name": "In Progress", "colorName": "yellow"},
    "done": {"id": 3, "name": "Done", "colorName": "green"},
    "undefined": {"id": 1, "name": "No Category", "colorName": "medium-gray"},
}
ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def jira_time(moment: datetime) -> str:
    """Jira's timestamp format, e.g. 2026-03-01T10:15:30.123+0000 (moment in UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def error(
    status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
) -> Reply:
    return Reply(status, {"errorMessages": messages or [], "errors": errors or {}})


def user(base_url: str, account_id: str, display_name: str) -> dict[str, Any]:
    return {
        "self": f"{base_url}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "accountType": "atlassian",
        "displayName": display_name,
        "active": True,
        "timeZone": "Etc/UTC",
    }


def status(base_url: str, status_id: str, name: str, category: str) -> dict[str, Any]:
    meta = CATEGORIES[category]
    return {
        "self": f"{base_url}/rest/api/3/status/{status_id}",
        "description": "",
        "name": name,
        "id": status_id,
        "statusCategory": {
            "self": f"{base_url}/rest/api/3/statuscategory/{meta['id']}",
            "id": meta["id"],
            "key": category,
            "colorName": meta["colorName"],
            "name": meta["name"],
        },
    }


def named(base_url: str, kind: str, item_id: str, name: str) -> dict[str, Any]:
    """A resolution, priority or issue type: {self, id, name}."""
    item = {"self": f"{base_url}/rest/api/3/{kind}/{item_id}", "id": item_id, "name": name}
    if kind == "issuetype":
        item |= {"subtask": False, "hierarchyLevel": 0}
    if kind == "resolution":
        item["description"] = ""
    return item


def project(base_url: str, project_id: str, key: str) -> dict[str, Any]:
    return {
        "self": f"{base_url}/rest/api/3/project/{project_id}",
        "id": project_id,
        "key": key,
        "name": key.title(),
        "projectTypeKey": "software",
        "simplified": False,
    }


def issue_self(base_url: str, issue: dict[str, Any]) -> str:
    return f"{base_url}/rest/api/3/issue/{issue['id']}"


def render_issue(
    base_url: str,
    issue: dict[str, Any],
    fields: list[str] | None,
    properties: list[str] | None,
) -> dict[str, Any]:
    """GET /issue/{id}: all fields unless some are named; properties only when asked for."""
    wanted = None if fields is None or {"*all", "*navigable"} & set(fields) else set(fields)
    rendered: dict[str, Any] = {
        "expand": ISSUE_EXPAND,
        "id": issue["id"],
        "self": issue_self(base_url, issue),
        "key": issue["key"],
        "fields": {k: v for k, v in issue["fields"].items() if wanted is None or k in wanted},
    }
    if properties:
        everything = "*all" in properties
        rendered["properties"] = {
            k: v for k, v in issue["properties"].items() if everything or k in properties
        }
    return rendered


def search_hit(base_url: str, issue: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """/search/jql answers issue ids only unless fields are named ("The default is `id`")."""
    wanted = [f for f in fields if f != "id"]
    return render_issue(base_url, issue, wanted, None) if wanted else {"id": issue["id"]}


def server_info(base_url: str) -> dict[str, Any]:
    return {
        "baseUrl": base_url,
        "displayUrl": base_url,
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100297,
        "serverTitle": "Fake Jira",
    }


def listed(values: list[str] | None) -> list[str] | None:
    """Query values that may repeat and may be comma-separated: fields=a,b&fields=c."""
    if values is None:
        return None
    return [item for value in values for item in value.split(",") if item]
