"""Render a whole postmortem as Markdown for people who did not live the incident."""

from __future__ import annotations

from datetime import datetime

from app.enums import CHAIN_LEVEL_NAMES, ChainLevel
from app.postmortems import outcome
from app.postmortems.schemas import CheckReport, PostmortemDetail


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "not recorded"


def _text(value: str) -> str:
    return value.strip() or "_(not answered)_"


def _cell(value: str) -> str:
    # CR alone ends a line in Markdown too: any line break would split the table row.
    for line_break in ("\r\n", "\r", "\n"):
        value = value.replace(line_break, " ")
    return value.replace("|", "\\|").strip()


def render(pm: PostmortemDetail, report: CheckReport) -> str:
    lines: list[str] = [f"# {pm.title}", ""]
    lines += [
        f"**Incident:** {pm.incident_ref}" + (f" ({pm.incident_url})" if pm.incident_url else ""),
        f"**Severity:** {pm.severity.value} · **Status:** {pm.status.value.replace('_', ' ')}"
        + (f" · **Team:** {pm.team}" if pm.team else ""),
    ]
    if pm.services:
        lines.append(f"**Services:** {', '.join(pm.services)}")
    if pm.tags:
        lines.append(f"**Tags:** {', '.join(pm.tags)}")
    lines += [
        "",
        "## Summary",
        "",
        _text(pm.summary),
        "",
        "## User impact",
        "",
        _text(pm.user_impact),
        "",
    ]

    lines += ["## Key times", "", "| Event | When |", "|---|---|"]
    for label, value in (
        ("Started", pm.started_at),
        ("Detected", pm.detected_at),
        ("Mitigated", pm.mitigated_at),
        ("Resolved", pm.resolved_at),
        ("Review held", pm.review_held_at),
    ):
        lines.append(f"| {label} | {_when(value)} |")
    if pm.review_lag_hours is not None:
        lines += ["", f"The review was held {pm.review_lag_hours:g} hours after resolution."]
    lines.append("")

    lines += ["## Timeline", ""]
    if pm.timeline:
        lines += ["Kept rough on purpose: guesses and confusion stay as they were written.", ""]
        lines += ["| When | Who | Kind | What | Written |", "|---|---|---|---|---|"]
        for entry in pm.timeline:
            written = {True: "during", False: "after", None: "-"}[entry.written_during_incident]
            edited = f" (edited, v{entry.version})" if entry.version > 1 else ""
            lines.append(
                f"| {_when(entry.at)} | {_cell(entry.author)} | {entry.kind.value} | "
                f"{_cell(entry.text)}{edited} | {written} |"
            )
    else:
        lines.append("_No timeline recorded._")
    lines.append("")

    lines += ["## Responder timeline", ""]
    if pm.decision_points:
        for point in pm.decision_points:
            gap = (
                f" ({point.minutes_since_alert:g} min after the first alert)"
                if point.minutes_since_alert is not None
                else ""
            )
            lines += [
                f"### {_when(point.at)} — {point.decision_kind.value.replace('_', ' ')} by {point.responder}{gap}",
                "",
            ]
            if point.decision:
                lines += [point.decision.strip(), ""]
            lines += [
                f"- **Knew:** {_text(point.knew)}",
                f"- **Unsure of:** {_text(point.unsure_of)}",
                f"- **Would have helped:** {_text(point.would_have_helped)}",
                "",
            ]
    else:
        lines += ["_No decision points recorded._", ""]

    lines += ["## Contributing conditions", ""]
    if pm.conditions:
        for condition in pm.conditions:
            level = f", {condition.chain_level.value}" if condition.chain_level else ""
            tags = (
                f" — tags: {', '.join(condition.failure_modes)}" if condition.failure_modes else ""
            )
            lines.append(
                f"- **{condition.category.value}{level}:** {condition.description.strip()}{tags}"
            )
    else:
        lines.append("_No contributing conditions recorded._")
    lines.append("")

    lines += ["## Chain-level walk", "", "| Level | Contributed | Note |", "|---|---|---|"]
    for level in ChainLevel:
        answer = getattr(pm.chain_walk, level.value)
        lines.append(
            f"| {level.value} {CHAIN_LEVEL_NAMES[level]} | {answer.contributed.value} | {_cell(answer.note)} |"
        )
    lines.append("")

    review = pm.review
    lines += [
        "## Review",
        "",
        f"**What surprised us / what we believed that was wrong:** {_text(review.surprises)}",
        "",
        f"**What conditions made this possible:** {_text(review.conditions)}",
        "",
        f"**What slowed detection:** {_text(review.slowed_detection)}",
        "",
        f"**What slowed diagnosis:** {_text(review.slowed_diagnosis)}",
        "",
        f"**What slowed resolution:** {_text(review.slowed_resolution)}",
        "",
        f"**Possible elsewhere:** {review.possible_elsewhere.value}"
        + (f" — {review.elsewhere_note.strip()}" if review.elsewhere_note.strip() else ""),
        "",
        "**What would have caught it earlier:**",
        "",
        f"- Detect: {_text(review.caught_earlier.detect)}",
        f"- Contain: {_text(review.caught_earlier.contain)}",
        f"- Resolve: {_text(review.caught_earlier.resolve)}",
        "",
        f"**Who knew things that others didn't:** {_text(review.knowledge_gaps)}",
        "",
        "**When we knew enough to resolve it, and what happened between then and resolution:** "
        + _text(review.knew_enough_to_resolve),
        "",
        "**What would need to be true for this category not to happen:** "
        + _text(review.for_category_not_to_happen),
        "",
        f"**Review led by:** incident commander {review.led_by.incident_commander or '_(not recorded)_'}"
        f" · scribe {review.led_by.scribe or '_(not recorded)_'}",
        "",
    ]

    if pm.outcome:
        lines += [
            "## Compared with the earlier incidents",
            "",
            "Was the team better equipped this time? Minutes from the incident's start (alert to "
            "right action: from the first alert); lower is better.",
            "",
        ]
        for comparison in pm.outcome:
            lines += [
                f"### Against {comparison.earlier_incident_ref}: {comparison.earlier_title}",
                "",
                f"Overall: **{comparison.verdict}**",
                "",
                "| Measure | Then | Now | Difference | Verdict |",
                "|---|---|---|---|---|",
            ]
            for m in comparison.measures:
                difference = (
                    "n/a" if m.difference_minutes is None else f"{m.difference_minutes:+g} min"
                )
                lines.append(
                    f"| {outcome.MEASURE_LABELS[m.measure]} | {outcome.minutes_text(m.then_minutes)} | "
                    f"{outcome.minutes_text(m.now_minutes)} | {difference} | {m.verdict} |"
                )
            lines.append("")

    committed = [i for i in pm.action_items if i.committed]
    aware = [i for i in pm.action_items if not i.committed]
    lines += ["## Action items", ""]
    if committed:
        for item in committed:
            meta = [
                f"owner: {item.owner or 'none'}",
                f"due: {item.due_date.isoformat() if item.due_date else 'none'}",
                f"status: {item.status.value.replace('_', ' ')}",
            ]
            if item.chain_level:
                meta.append(f"level: {item.chain_level.value}")
            if item.purpose:
                meta.append(f"purpose: {item.purpose.value}")
            lines += [f"### {item.title}", "", f"_{' · '.join(meta)}_", ""]
            if item.description.strip():
                lines += [item.description.strip(), ""]
            lines.append("**Definition of done:**")
            lines += [
                f"- [{'x' if item.status.value in ('closed', 'verified') else ' '}] {c}"
                for c in item.definition_of_done
            ] or ["- _none_"]
            lines += ["", f"**Verification:** {_text(item.verification)}", ""]
            if item.verified_at:
                lines += [
                    f"Verified by {item.verified_by} on {_when(item.verified_at)}: {item.verification_evidence}",
                    "",
                ]
    else:
        lines += ["_No committed action items._", ""]
    if aware:
        lines += ["## Things to remain aware of", ""]
        lines += [
            f"- {item.title}"
            + (f": {item.description.strip()}" if item.description.strip() else "")
            for item in aware
        ]
        lines.append("")

    if pm.reads:
        lines += ["## Readers", ""]
        outside = ", ".join(f"{_cell(r.reader)} ({_when(r.read_at)})" for r in pm.read_outside_team)
        lines.append(f"Read by {pm.reads}; from outside the team: {outside or 'nobody yet'}.")
        lines.append("")

    if pm.links:
        lines += ["## Runbooks and decision records", ""]
        lines += [
            f"- {link.kind.value}: [{link.title or link.url}]({link.url})" for link in pm.links
        ]
        lines.append("")

    open_findings = [f for f in report.findings if not f.waived]
    if open_findings:
        lines += ["## Open findings from the checks", ""]
        lines += [f"- {f.severity}: {f.message} (`{f.path}`)" for f in open_findings]
        lines.append("")
    waived = [(f, f.waiver) for f in report.findings if f.waiver is not None]
    if waived:
        lines += ["## Waived findings", ""]
        lines += ["| Rule | Path | Reason | Waived by | When |", "|---|---|---|---|---|"]
        lines += [
            f"| {f.rule} | `{_cell(f.path)}` | {_cell(w.reason)} | {_cell(w.by)} | {_when(w.at)} |"
            for f, w in waived
        ]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
