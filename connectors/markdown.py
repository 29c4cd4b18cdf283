"""The Markdown a ticket carries on the trackers that take Markdown (GitHub, Linear), and the
plain-text comment every tracker gets when `set_state` moves a ticket."""

from __future__ import annotations

from connectors.base import PermanentConnectorError, TicketRef, TicketSpec, TicketState

SETTABLE_STATES = frozenset({TicketState.OPEN, TicketState.DONE, TicketState.WONT_DO})


def ticket_markdown(spec: TicketSpec, *, due_in_body: bool = False, footer: str = "") -> str:
    """What, the definition of done as a checklist, verification, (due date,) the link back."""
    parts: list[str] = []
    if spec.description.strip():
        parts += [spec.description.strip(), ""]
    parts.append("## Definition of done")
    parts += [f"- [ ] {criterion}" for criterion in spec.definition_of_done] or [
        "- [ ] (not written yet)"
    ]
    parts += ["", "## Verification", spec.verification.strip() or "(not written yet)", ""]
    if due_in_body and spec.due_date is not None:
        parts += [f"**Due:** {spec.due_date.isoformat()}", ""]
    parts.append(f"From the postmortem: {spec.postmortem_url}")
    if footer:
        parts += ["", footer]
    return "\n".join(parts)


def state_change_comment(
    state: TicketState, comment: str | None, duplicate_of: TicketRef | None
) -> str | None:
    """The comment `Connector.set_state` adds before it moves a ticket: "Duplicate of <key>"
    when closing as a duplicate (GitHub itself reads that line), then the caller's text.

    Refuses the requests no tracker can carry out: a state other than OPEN, DONE or WONT_DO,
    and `duplicate_of` with anything but WONT_DO."""
    if state not in SETTABLE_STATES:
        raise PermanentConnectorError(f"a ticket cannot be moved to {state.value!r}")
    if duplicate_of is not None and state is not TicketState.WONT_DO:
        raise PermanentConnectorError("only WONT_DO closes a ticket as a duplicate")
    parts = [f"Duplicate of {duplicate_of.external_key}"] if duplicate_of is not None else []
    if comment and comment.strip():
        parts.append(comment.strip())
    return "\n\n".join(parts) or None
