"""Which connector class serves which tracker kind: a plain dict from kind to class path.

Each connector is imported only when an integration of its kind is used, so a deployment that
talks to one tracker never loads the other trackers' client libraries.
"""

from __future__ import annotations

import importlib
from typing import cast

from connectors.base import Connector, ConnectorConfig, TrackerKind, WebhookParser

CONNECTORS: dict[TrackerKind, str] = {
    TrackerKind.GITHUB: "connectors.github.connector:GitHubConnector",
    TrackerKind.JIRA: "connectors.jira.connector:JiraConnector",
    TrackerKind.LINEAR: "connectors.linear.connector:LinearConnector",
}


def build(kind: TrackerKind, config: ConnectorConfig) -> Connector:
    module, _, name = CONNECTORS[kind].partition(":")
    return cast(Connector, getattr(importlib.import_module(module), name)(config))


WEBHOOK_PARSERS: dict[TrackerKind, str] = {
    TrackerKind.GITHUB: "connectors.github.webhooks",
    TrackerKind.JIRA: "connectors.jira.webhooks",
    TrackerKind.LINEAR: "connectors.linear.webhooks",
}


def webhook_parser(kind: TrackerKind) -> WebhookParser:
    return cast(WebhookParser, importlib.import_module(WEBHOOK_PARSERS[kind]))
