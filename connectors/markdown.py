"""The Markdown a ticket carries on the trackers that take Markdown (GitHub, Linear)."""

from __future__ import annotations

from connectors.base import TicketSpec


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
