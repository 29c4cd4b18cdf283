"""Which tracker lives where: one line per kind naming its connector class.

Everything else follows from the kind's folder, `connectors/<kind>/`: `profile.py` declares
`PROFILE` (facts only, loaded eagerly and cheap) and `webhooks.py` the WebhookParser functions.
Each connector is imported only when an integration of its kind is used, so a deployment that
talks to one tracker never loads the other trackers' client libraries.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import cast

from connectors.base import Connector, ConnectorConfig, TrackerKind, WebhookParser
from connectors.egress.policy import EgressPolicy
from connectors.profile import TrackerProfile

CONNECTORS: dict[TrackerKind, str] = {
    TrackerKind.GITHUB: "GitHubConnector",
    TrackerKind.JIRA: "JiraConnector",
    TrackerKind.LINEAR: "LinearConnector",
}


def _folder(kind: TrackerKind) -> str:
    return f"connectors.{kind.value}"


def _load_profile(kind: TrackerKind) -> TrackerProfile:
    declared = getattr(importlib.import_module(f"{_folder(kind)}.profile"), "PROFILE", None)
    if not isinstance(declared, TrackerProfile) or declared.kind != kind:
        raise TypeError(f"{_folder(kind)}.profile must declare PROFILE for {kind}")
    return declared


PROFILES: Mapping[TrackerKind, TrackerProfile] = MappingProxyType(
    {kind: _load_profile(kind) for kind in CONNECTORS}
)


def profile(kind: TrackerKind) -> TrackerProfile:
    """The tracker's facts (credential shapes, project pattern, webhooks, resend window)."""
    return PROFILES[TrackerKind(kind)]


def build(kind: TrackerKind, config: ConnectorConfig, *, egress: EgressPolicy) -> Connector:
    """The kind's connector for `config`, sending requests only where `egress` allows (the
    caller passes its allow-list here; there is no default that would skip it)."""
    module = importlib.import_module(f"{_folder(kind)}.connector")
    return cast(Connector, getattr(module, CONNECTORS[kind])(replace(config, egress=egress)))


def webhook_parser(kind: TrackerKind) -> WebhookParser:
    return cast(WebhookParser, importlib.import_module(f"{_folder(kind)}.webhooks"))
