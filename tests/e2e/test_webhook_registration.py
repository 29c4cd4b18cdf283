"""Linear webhooks are created through its API; Jira (API token) gets exact manual steps."""

from fastapi.testclient import TestClient

from tests.e2e.sync_support import connect_tracker
from tests.fake_trackers.jira import API_TOKEN, FakeJira
from tests.fake_trackers.linear import API_KEY, TEAM_ID, FakeLinear


def test_linear_webhook_is_created_for_issues_and_comments(
    client: TestClient, fake_linear: FakeLinear
) -> None:
    integration = connect_tracker(
        client,
        "linear",
        fake_linear.base_url,
        {"api_key": API_KEY},
        TEAM_ID,
        webhook_secret="chosen-secret",
    )
    setup = client.post(f"/v1/integrations/{integration['id']}/webhook").json()
    assert setup["registered"] is True
    [hook] = fake_linear.webhooks
    assert (hook["teamId"], hook["resourceTypes"], hook["secret"]) == (
        TEAM_ID,
        ["Issue", "Comment"],
        "chosen-secret",
    )
    assert hook["url"] == setup["url"]


def test_jira_with_an_api_token_gets_manual_steps(client: TestClient, fake_jira: FakeJira) -> None:
    integration = connect_tracker(
        client,
        "jira",
        fake_jira.base_url,
        {"email": "bot@example.com", "api_token": API_TOKEN},
        "OPS",
    )
    setup = client.post(f"/v1/integrations/{integration['id']}/webhook").json()
    assert setup["registered"] is False
    assert setup["signature_header"] == "X-Hub-Signature"
    assert "Jira administration" in setup["instructions"]
    assert setup["secret_configured"] is True
