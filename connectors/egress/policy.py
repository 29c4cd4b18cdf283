"""Which destinations the service may call: the one egress policy for every outbound request.

Integrations name the URLs the service calls (a tracker's `base_url`), so whoever can save an
integration could otherwise point the service, with its stored credentials, at itself, at the
cloud's metadata service or at anything else on the internal network, and read the answers
back. The policy refuses:

- any scheme but http and https, and user names or passwords in the URL;
- names that are the machine itself or a cloud metadata service (`localhost`,
  `metadata.google.internal`, ...);
- after DNS resolution, any address that is not public: loopback, link-local, private
  (RFC 1918, ULA), unspecified, multicast, reserved, shared (CGNAT) and documentation
  ranges, the IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of those, and the cloud
  metadata addresses (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...).

A host named in `allow_hosts` (exactly as it appears in the URL: a name or an address) skips
the address checks: self-hosted trackers on the internal network, and tests against servers on
127.0.0.1, need that. A cloud metadata address stays refused for an allow-listed *name*, so a
DNS change on an allowed internal name cannot turn it into the metadata service; only listing
the address itself allows it.

`check_url` needs no network (it is what saving an integration runs); `addresses` resolves the
host and checks every address it gets (what each request runs, since DNS can change). The
transports in `requests_adapter` and `httpx_transport` apply both to every request and connect
only to an address they checked.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

ALLOW_HINT = (
    "to call it anyway (a self-hosted tracker on an internal network), add the host to the "
    "service's allow-list: FOLLOWTHROUGH_EGRESS__ALLOW_HOSTS=<host>[,<host>...]"
)

# Names that are this machine or a cloud provider's instance metadata service.
_REFUSED_NAMES = {
    "localhost": "this machine",
    "localhost.localdomain": "this machine",
    "ip6-localhost": "this machine",
    "ip6-loopback": "this machine",
    "metadata": "a cloud metadata service",
    "metadata.google.internal": "a cloud metadata service",
    "metadata.goog": "a cloud metadata service",
    "instance-data": "a cloud metadata service",
    "instance-data.ec2.internal": "a cloud metadata service",
}
_REFUSED_SUFFIXES = {".localhost": "this machine"}

# Instance metadata services: AWS (IPv4 and Nitro IPv6), ECS task metadata, AWS DNS and time,
# GCP/Azure/OpenStack/DigitalOcean (169.254.169.254), Alibaba Cloud, Oracle Cloud.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.169.253",
        "169.254.169.123",
        "fd00:ec2::254",
        "fd00:ec2::253",
        "fd00:ec2::123",
        "100.100.100.200",
        "192.0.0.192",
    )
)

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Only what could be an IPv4 address in a form inet_aton() (and so getaddrinfo) accepts:
# decimal 2130706433, octal 0177.0.0.1, hex 0x7f.1, short 127.1.
_NUMERIC_HOST = re.compile(r"^[0-9][0-9a-fx.]*$", re.IGNORECASE)
_UNSAFE_CHARACTERS = re.compile(r"[\s\\\x00-\x1f\x7f]")


class EgressError(Exception):
    """Base of what the egress layer raises; `reason` is in our words and holds no answer text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DestinationRefused(EgressError):
    """The URL, or an address its host resolves to, is not a destination the service may call."""


class RedirectRefused(EgressError):
    """The far side answered with a redirect, and redirects are not followed."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"answered {status_text(status)}, a redirect, which is not followed")


def status_text(status: int) -> str:
    """`404 Not Found`: the code and its standard phrase (never the phrase the server sent)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives for the host (scope ids of link-local IPv6 dropped)."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in found))


def normalise_host(host: str) -> str:
    """Lower case, without IPv6 brackets or a trailing dot: how hosts are compared."""
    return host.strip().strip("[]").rstrip(".").lower()


def address_problem(address: IPAddress) -> str | None:
    """Why `address` may not be called, in a few words; None for a public address."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            form, inner = embedded
            problem = address_problem(inner)
            return f"the {form} form of {inner}, {problem}" if problem else None
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_loopback:
            return "a loopback address"
        if address.is_link_local:
            return "a link-local address"
        if address.is_site_local:
            return "a site-local address"
        if address in ipaddress.ip_network("fc00::/7"):
            return "a unique local (private) address"
    else:
        if address.is_unspecified or address in ipaddress.ip_network("0.0.0.0/8"):
            return "the unspecified address"
        if address.is_loopback:
            return "a loopback address"
        if address.is_link_local:
            return "a link-local address"
        if address in _SHARED:
            return "a shared (carrier-grade NAT) address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """IPv6 forms that carry an IPv4 address the packets end up at."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class Destination:
    """A URL that passed `check_url`: its scheme, normalised host and port."""

    scheme: str
    host: str
    port: int
    allowed: bool  # the allow-list names the host


@dataclass(frozen=True)
class EgressPolicy:
    """The rules, with the allow-list; `resolver` is replaceable so tests can pin DNS."""

    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def allowing(cls, hosts: Iterable[str], resolver: Resolver | None = None) -> EgressPolicy:
        names = frozenset(normalise_host(h) for h in hosts if h and h.strip())
        return cls(names, resolver or system_resolver)

    def check_url(self, url: str) -> Destination:
        """The URL's destination, or DestinationRefused saying why. No DNS lookup."""
        if _UNSAFE_CHARACTERS.search(url):
            raise DestinationRefused("the URL holds whitespace, backslashes or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise DestinationRefused("the URL cannot be read (host or port)") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise DestinationRefused(
                f"only http and https URLs are called, not {scheme or '(none)'}"
            )
        if "@" in parts.netloc:
            raise DestinationRefused(
                "the URL holds a user name or password; send credentials in the integration's "
                "credentials instead"
            )
        host = normalise_host(parts.hostname or "")
        if not host:
            raise DestinationRefused("the URL names no host")
        destination = Destination(
            scheme, host, port or (443 if scheme == "https" else 80), host in self.allow_hosts
        )
        if destination.allowed:
            return destination
        problem = host_problem(host)
        if problem is not None:
            raise DestinationRefused(f"{host} is {problem}; {ALLOW_HINT}")
        return destination

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Resolve `host` and check every address; all must be allowed (a name with one public
        and one internal address is refused: the client may pick either). Raises
        DestinationRefused, or OSError when the name does not resolve."""
        name = normalise_host(host)
        allowed = name in self.allow_hosts
        if not allowed:
            problem = host_problem(name)
            if problem is not None:
                raise DestinationRefused(f"{name} is {problem}; {ALLOW_HINT}")
        literal = _literal(name)
        found = [literal] if literal is not None else _parsed(self.resolver(name, port))
        if not found:
            raise OSError(f"{name} resolved to no address")
        for address in found:
            # The allow-list names hosts as written in URLs: another name that resolves to an
            # allowed address is not allowed by it.
            if allowed and (literal is not None or address not in METADATA_ADDRESSES):
                continue
            problem = address_problem(address)
            if problem is not None:
                raise DestinationRefused(
                    f"{name} resolves to {address}, {problem}; {ALLOW_HINT}"
                    if literal is None
                    else f"{name} is {problem}; {ALLOW_HINT}"
                )
        return found


def host_problem(host: str) -> str | None:
    """Why a host, as written, may not be called without resolving it; None when only DNS can
    tell. Catches refused names and address literals in every form getaddrinfo accepts."""
    name = normalise_host(host)
    if name in _REFUSED_NAMES:
        return _REFUSED_NAMES[name]
    for suffix, problem in _REFUSED_SUFFIXES.items():
        if name.endswith(suffix):
            return problem
    literal = _literal(name)
    if literal is not None:
        return address_problem(literal)
    if _NUMERIC_HOST.match(name):
        try:
            packed = socket.inet_aton(name)
        except OSError:
            return None
        decoded = ipaddress.IPv4Address(packed)
        meaning = address_problem(decoded)
        return f"{decoded} written in a non-standard form" + (f", {meaning}" if meaning else "")
    return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _parsed(addresses: Iterable[str]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for text in addresses:
        try:
            found.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            raise DestinationRefused(f"DNS gave {text!r}, which is not an address") from None
    return found
