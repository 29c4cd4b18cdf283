"""Vocabularies shared by tables, API shapes and checks."""

from enum import StrEnum

# One definition, on the connectors' side: a new tracker is added there, not here.
from connectors.base import TrackerKind as TrackerKind


class Severity(StrEnum):
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"
    SEV5 = "SEV5"


class PostmortemStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    COMPLETE = "complete"


class ChainLevel(StrEnum):
    """Where in the chain from strategy to operation a failure was produced or missed."""

    L1 = "L1"  # strategy
    L2 = "L2"  # discovery
    L3 = "L3"  # scope
    L4 = "L4"  # execution
    L5 = "L5"  # operation


CHAIN_LEVEL_NAMES = {
    ChainLevel.L1: "strategy",
    ChainLevel.L2: "discovery",
    ChainLevel.L3: "scope",
    ChainLevel.L4: "execution",
    ChainLevel.L5: "operation",
}


class Contributed(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class TimelineKind(StrEnum):
    ALERT = "alert"
    OBSERVATION = "observation"
    HYPOTHESIS = "hypothesis"
    ACTION = "action"
    DECISION = "decision"
    COMMUNICATION = "communication"


class DecisionKind(StrEnum):
    FIRST_ACTION = "first_action"
    ESCALATION = "escalation"
    ROLLBACK = "rollback"
    CUSTOMER_COMMUNICATION = "customer_communication"
    OTHER = "other"


class ConditionCategory(StrEnum):
    TECHNICAL = "technical"
    PROCESS = "process"
    KNOWLEDGE = "knowledge"
    TIMING = "timing"
    OTHER = "other"


class Purpose(StrEnum):
    PREVENT = "prevent"
    DETECT = "detect"
    CONTAIN = "contain"
    RESOLVE = "resolve"


class Priority(StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ActionItemStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    WONT_DO = "wont_do"
    VERIFIED = "verified"
    REOPENED = "reopened"


class SyncState(StrEnum):
    """Where an item's ticket stands: None until the item needs one."""

    PENDING = "pending"
    SYNCED = "synced"
    ERROR = "error"


class LinkKind(StrEnum):
    RUNBOOK = "runbook"
    ADR = "adr"
    DASHBOARD = "dashboard"
    OTHER = "other"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


SCOPE_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}
