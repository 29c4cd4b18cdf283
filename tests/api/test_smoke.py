from fastapi.testclient import TestClient

from tests.factories import make_person, make_postmortem


def test_publish_opens_committed_items(client: TestClient) -> None:
    make_person(client, "alice")
    pm = make_postmortem(client)
    response = client.post(f"/v1/postmortems/{pm['id']}/publish")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published"
    items = client.get("/v1/action-items", params={"postmortem": pm["id"]}).json()["items"]
    assert [i["status"] for i in items] == ["open"]
