"""Where integrations may send requests: the egress policy built from settings, and the check
of a `base_url` when an integration is saved (requests are checked again when sent)."""

from __future__ import annotations

from app.errors import InvalidInput, field_error
from app.settings import EgressSettings
from connectors.egress.policy import DestinationRefused, EgressPolicy


def policy(settings: EgressSettings) -> EgressPolicy:
    """The policy every connector of this process sends through, with the allow-list."""
    return EgressPolicy.allowing(settings.allow_hosts)


def check_base_url(base_url: str | None, settings: EgressSettings) -> None:
    """422 naming body.base_url when the URL is one the service will not call. No DNS lookup
    here (a name is resolved, and its addresses checked, on every request instead)."""
    if base_url is None:
        return
    try:
        policy(settings).check_url(base_url)
    except DestinationRefused as exc:
        raise InvalidInput(
            f"base_url is refused: {exc.reason}",
            errors=[field_error("body.base_url", exc.reason)],
        ) from None
