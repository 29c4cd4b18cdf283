"""The egress policy's table, with DNS pinned, and its requests and httpx transports against a
server on 127.0.0.1 (redirects refused, connections made only to checked addresses)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest
import requests

from app.settings import Settings
from connectors.egress.httpx_transport import EgressTransport
from connectors.egress.policy import DestinationRefused, EgressPolicy, RedirectRefused
from connectors.egress.requests_adapter import mount
from tests.fake_trackers.server import FakeTrackerServer, Reply, Request


def pinned(table: dict[str, Sequence[str]]) -> EgressPolicy:
    """A policy whose DNS answers from `table` (an unknown name does not resolve)."""

    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"{host} does not resolve")
        return table[host]

    return EgressPolicy(resolver=resolve)


def allowing(hosts: Sequence[str], table: dict[str, Sequence[str]]) -> EgressPolicy:
    return EgressPolicy.allowing(hosts, resolver=pinned(table).resolver)


# -- refused as written, without DNS --------------------------------------------------------------

REFUSED_URLS = {
    "http://169.254.169.254/latest/meta-data/": "cloud metadata",
    "http://[fd00:ec2::254]/": "cloud metadata",
    "http://100.100.100.200/": "cloud metadata",
    "http://metadata.google.internal/computeMetadata/v1/": "cloud metadata",
    "http://METADATA.google.internal./": "cloud metadata",
    "http://localhost:8000": "this machine",
    "http://api.localhost": "this machine",
    "http://127.0.0.1:9101": "loopback",
    "http://127.8.9.10": "loopback",
    "http://[::1]:8000": "loopback",
    "http://0.0.0.0:8000": "unspecified",
    "http://[::]/": "unspecified",
    "http://2130706433": "127.0.0.1 written in a non-standard form, a loopback",
    "http://0x7f000001": "127.0.0.1 written in a non-standard form",
    "http://0177.0.0.1": "127.0.0.1 written in a non-standard form",
    "http://127.1": "127.0.0.1 written in a non-standard form",
    "http://10.0.0.8": "private",
    "http://172.16.4.2": "private",
    "http://192.168.1.1": "private",
    "http://[fd12:3456::1]": "unique local",
    "http://169.254.1.1": "link-local",
    "http://[fe80::1]": "link-local",
    "http://224.0.0.251": "multicast",
    "http://[ff02::1]": "multicast",
    "http://240.0.0.1": "reserved",
    "http://100.64.0.1": "shared",
    "http://[::ffff:127.0.0.1]": "IPv4-mapped form of 127.0.0.1, a loopback",
    "http://[::ffff:169.254.169.254]": "IPv4-mapped form of 169.254.169.254, a cloud metadata",
    "http://[::ffff:10.0.0.1]": "IPv4-mapped form of 10.0.0.1, a private",
    "http://[::127.0.0.1]": "IPv4-compatible form of 127.0.0.1",
    "http://[64:ff9b::a9fe:a9fe]": "NAT64 form of 169.254.169.254",
    "http://[2002:7f00:1::]": "6to4 form of 127.0.0.1",
    "ftp://tracker.example.com": "only http and https",
    "file:///etc/passwd": "only http and https",
    "gopher://tracker.example.com": "only http and https",
    "https://user:secret@jira.example.com": "user name or password",
    "https://token@github.example.com/api/v3": "user name or password",
    "https://jira.example.com\\@169.254.169.254/": "backslashes",
    "http:///path-only": "names no host",
}


@pytest.mark.parametrize(("url", "why"), REFUSED_URLS.items(), ids=list(REFUSED_URLS))
def test_refused_urls_are_refused_without_dns_saying_why(url: str, why: str) -> None:
    policy = pinned({})  # any lookup would fail the test with OSError
    with pytest.raises(DestinationRefused) as refused:
        policy.check_url(url)
    assert why in refused.value.reason
    if not any(w in why for w in ("only http", "user name", "backslashes", "no host")):
        assert "FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS" in refused.value.reason


def test_a_refused_address_says_how_to_allow_list_it() -> None:
    with pytest.raises(DestinationRefused) as refused:
        EgressPolicy().check_url("http://10.0.0.8/")
    assert refused.value.reason.endswith("FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS=<host>[,<host>...]")


# -- refused after resolving ----------------------------------------------------------------------

RESOLVES_TO = {
    "loopback": ["127.0.0.1"],
    "loopback6": ["::1"],
    "link-local": ["169.254.7.7"],
    "metadata": ["169.254.169.254"],
    "metadata6": ["fd00:ec2::254"],
    "rfc1918": ["10.1.2.3"],
    "ula": ["fd00::5"],
    "unspecified": ["0.0.0.0"],  # noqa: S104  # an answer to refuse, not a bind
    "multicast": ["239.1.2.3"],
    "reserved": ["250.1.1.1"],
    "mapped": ["::ffff:127.0.0.1"],
    "compat": ["::10.0.0.1"],
    "one-of-two": ["140.82.112.6", "10.0.0.9"],
}


@pytest.mark.parametrize("name", RESOLVES_TO)
def test_a_name_that_resolves_to_an_internal_address_is_refused_at_call_time(name: str) -> None:
    host = f"{name}.tracker.example"
    policy = pinned({host: RESOLVES_TO[name]})
    # Saving passes: the name says nothing by itself.
    assert policy.check_url(f"https://{host}/api").host == host
    with pytest.raises(DestinationRefused) as refused:
        policy.addresses(host, 443)
    assert f"{host} resolves to" in refused.value.reason


def test_a_name_that_does_not_resolve_is_a_connection_failure_not_a_refusal() -> None:
    with pytest.raises(OSError):
        pinned({}).addresses("nowhere.example", 443)


# -- accepted -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://api.github.com", ["140.82.112.6"]),
        ("https://acme.atlassian.net/", ["104.192.141.1"]),
        ("https://api.linear.app", ["2606:4700::6812:1b0a", "104.18.27.10"]),
        ("http://140.82.112.6:8080/api/v3", []),
        ("https://[2606:4700::6812:1b0a]/", []),
        ("https://[::ffff:8.8.8.8]/", []),
    ],
)
def test_public_destinations_are_accepted(url: str, addresses: list[str]) -> None:
    policy = pinned(
        {"api.github.com": addresses, "acme.atlassian.net": addresses}
        | {"api.linear.app": addresses}
    )
    destination = policy.check_url(url)
    assert not destination.allowed
    assert policy.addresses(destination.host, destination.port)


@pytest.mark.parametrize(
    ("allow", "url", "table"),
    [
        (["127.0.0.1"], "http://127.0.0.1:9101", {}),
        (["localhost"], "http://localhost:9101", {"localhost": ["127.0.0.1", "::1"]}),
        (
            ["jira.internal.example"],
            "https://jira.internal.example",
            {"jira.internal.example": ["10.20.30.40"]},
        ),
        (
            ["JIRA.Internal.Example."],
            "https://jira.internal.example",
            {"jira.internal.example": ["10.20.30.40"]},
        ),
        (["::1"], "http://[::1]:9101", {}),
        (["169.254.169.254"], "http://169.254.169.254/", {}),
    ],
)
def test_allow_listed_hosts_are_accepted(
    allow: list[str], url: str, table: dict[str, Sequence[str]]
) -> None:
    policy = allowing(allow, table)
    destination = policy.check_url(url)
    assert destination.allowed
    assert policy.addresses(destination.host, destination.port)


def test_an_allow_listed_name_still_cannot_resolve_to_a_metadata_address() -> None:
    policy = allowing(["jira.internal.example"], {"jira.internal.example": ["169.254.169.254"]})
    policy.check_url("https://jira.internal.example")
    with pytest.raises(DestinationRefused, match="cloud metadata"):
        policy.addresses("jira.internal.example", 443)


def test_allow_listing_one_name_does_not_allow_another_for_the_same_address() -> None:
    policy = allowing(["127.0.0.1"], {"myhost": ["127.0.0.1"]})
    with pytest.raises(DestinationRefused, match=r"myhost resolves to 127\.0\.0\.1"):
        policy.addresses("myhost", 80)
    with pytest.raises(DestinationRefused):
        policy.check_url("http://localhost:80")


def test_credentials_in_the_url_are_refused_even_for_allow_listed_hosts() -> None:
    with pytest.raises(DestinationRefused, match="user name or password"):
        allowing(["127.0.0.1"], {}).check_url("http://bot:pw@127.0.0.1:9101")


def test_the_allow_list_is_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS", "127.0.0.1, localhost,jira.internal")
    assert Settings().egress.allow_hosts == ["127.0.0.1", "localhost", "jira.internal"]
    monkeypatch.setenv("FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS", '["10.0.0.5"]')
    assert Settings().egress.allow_hosts == ["10.0.0.5"]
    monkeypatch.delenv("FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS")
    assert Settings().egress.allow_hosts == []


# -- the transports -------------------------------------------------------------------------------


class Answering(FakeTrackerServer):
    """Answers every request with `reply`."""

    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply

    def handle(self, request: Request) -> Reply:
        return self.reply


@pytest.fixture
def server() -> Iterator[Answering]:
    fake = Answering(Reply(200, {"ok": True})).start()
    yield fake
    fake.stop()


@pytest.fixture
def redirecting(server: Answering) -> Iterator[Answering]:
    fake = Answering(Reply(302, b"", {"Location": f"{server.base_url}/elsewhere"})).start()
    yield fake
    fake.stop()


def _port(fake: FakeTrackerServer) -> int:
    return int(fake.base_url.rsplit(":", 1)[1])


def requests_session(policy: EgressPolicy) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    mount(session, policy)
    return session


def httpx_client(policy: EgressPolicy) -> httpx.Client:
    return httpx.Client(transport=EgressTransport(policy), follow_redirects=True, trust_env=False)


def test_requests_connects_only_to_the_checked_address(server: Answering) -> None:
    # "tracker.test" is in no DNS: the request can only arrive if the connection goes to the
    # address the policy resolved and checked.
    policy = allowing(["tracker.test"], {"tracker.test": ["127.0.0.1"]})
    answer = requests_session(policy).get(f"http://tracker.test:{_port(server)}/x", timeout=5)
    assert answer.json() == {"ok": True}
    assert server.requests[-1].headers["host"] == f"tracker.test:{_port(server)}"


def test_httpx_connects_only_to_the_checked_address(server: Answering) -> None:
    policy = allowing(["tracker.test"], {"tracker.test": ["127.0.0.1"]})
    with httpx_client(policy) as client:
        answer = client.get(f"http://tracker.test:{_port(server)}/x")
    assert answer.json() == {"ok": True}
    assert server.requests[-1].headers["host"] == f"tracker.test:{_port(server)}"


def _rebinding() -> EgressPolicy:
    """DNS that answers a public address first and loopback from then on."""
    answers = iter([["140.82.112.6"]])

    def resolve(host: str, port: int) -> Sequence[str]:
        return next(answers, ["127.0.0.1"])

    return EgressPolicy(resolver=resolve)


def test_requests_refuses_a_name_rebound_to_loopback_between_check_and_connect(
    server: Answering,
) -> None:
    with pytest.raises(DestinationRefused, match=r"resolves to 127\.0\.0\.1"):
        requests_session(_rebinding()).get(f"http://rebound.test:{_port(server)}/", timeout=5)
    assert server.requests == []


def test_httpx_refuses_a_name_rebound_to_loopback_between_check_and_connect(
    server: Answering,
) -> None:
    with httpx_client(_rebinding()) as client, pytest.raises(DestinationRefused):
        client.get(f"http://rebound.test:{_port(server)}/")
    assert server.requests == []


def test_requests_refuses_redirects_and_does_not_follow_them(
    server: Answering, redirecting: Answering
) -> None:
    session = requests_session(EgressPolicy.allowing(["127.0.0.1"]))
    with pytest.raises(RedirectRefused) as refused:
        session.get(redirecting.base_url, timeout=5)
    assert refused.value.status == 302
    assert "302 Found" in refused.value.reason
    assert server.requests == []


def test_httpx_refuses_redirects_even_when_the_client_would_follow(
    server: Answering, redirecting: Answering
) -> None:
    with (
        httpx_client(EgressPolicy.allowing(["127.0.0.1"])) as client,
        pytest.raises(RedirectRefused),
    ):
        client.get(redirecting.base_url)
    assert server.requests == []


def test_a_followed_redirect_is_checked_at_every_hop(redirecting: Answering) -> None:
    # A caller that lets redirects through still cannot be sent inward: the second hop goes to
    # 127.0.0.1, which only the first hop's name was allowed to reach.
    policy = allowing(["first.test"], {"first.test": ["127.0.0.1"]})
    session = requests.Session()
    session.trust_env = False
    mount(session, policy, follow_redirects=True)
    with pytest.raises(DestinationRefused, match=r"127\.0\.0\.1 is a loopback address"):
        session.get(f"http://first.test:{_port(redirecting)}/", timeout=5)
    assert len(redirecting.requests) == 1


def test_requests_refuses_an_unlisted_loopback_url_before_connecting(server: Answering) -> None:
    with pytest.raises(DestinationRefused):
        requests_session(EgressPolicy()).get(server.base_url, timeout=5)
    assert server.requests == []
