"""Outbound calls that cannot be turned inward: the policy (`policy`) and its transports for
requests (`requests_adapter`) and httpx (`httpx_transport`), imported only by whoever uses them."""

from connectors.egress.policy import (
    ALLOW_HINT,
    Destination,
    DestinationRefused,
    EgressError,
    EgressPolicy,
    RedirectRefused,
    address_problem,
    host_problem,
    status_text,
)

__all__ = [
    "ALLOW_HINT",
    "Destination",
    "DestinationRefused",
    "EgressError",
    "EgressPolicy",
    "RedirectRefused",
    "address_problem",
    "host_problem",
    "status_text",
]
