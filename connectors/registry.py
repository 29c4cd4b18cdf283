"""Which connector class serves which tracker kind: a plain dict, filled in by each package."""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import Connector, ConnectorConfig, TrackerKind

ConnectorFactory = Callable[[ConnectorConfig], Connector]


def factories() -> dict[TrackerKind, ConnectorFactory]:
    # Imported here so that importing the registry stays cheap and cycle-free.
    from connectors.github.connector import GitHubConnector
    from connectors.jira.connector import JiraConnector
    from connectors.linear.connector import LinearConnector

    return {
        TrackerKind.GITHUB: GitHubConnector,
        TrackerKind.JIRA: JiraConnector,
        TrackerKind.LINEAR: LinearConnector,
    }


def build(kind: TrackerKind, config: ConnectorConfig) -> Connector:
    return factories()[kind](config)
