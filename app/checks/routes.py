from uuid import UUID

from fastapi import APIRouter, Response

from app.auth.deps import Reader, Writer
from app.checks.schemas import CheckWaiverCreate, CheckWaiverList, CheckWaiverRead
from app.db import SessionDep
from app.flows import waivers as waivers_flow
from app.settings import SettingsDep

router = APIRouter(prefix="/v1/postmortems/{postmortem_id}/checks/waivers", tags=["checks"])


@router.post("", status_code=201, response_model=CheckWaiverRead)
def waive_finding(
    postmortem_id: UUID,
    data: CheckWaiverCreate,
    session: SessionDep,
    caller: Writer,
    settings: SettingsDep,
    response: Response,
) -> CheckWaiverRead:
    """Waive one finding of the checks (its `rule` and `path`) with a reason. A waived error no
    longer blocks publishing. The waiver applies while the text at the path stays as it was
    when waived; edit it and the finding counts again. 422 when the checks report no such
    finding now, 409 when it is already waived."""
    waiver = waivers_flow.waive(session, postmortem_id, data, caller, settings.checks)
    response.headers["Location"] = f"/v1/postmortems/{postmortem_id}/checks/waivers/{waiver.id}"
    return waiver


@router.get("", response_model=CheckWaiverList)
def list_waivers(
    postmortem_id: UUID, session: SessionDep, _: Reader, settings: SettingsDep
) -> CheckWaiverList:
    """Every waiver of the postmortem, withdrawn ones included, oldest first. `stale`: the
    waived text has changed, so the waiver no longer applies."""
    return waivers_flow.list_waivers(session, postmortem_id, settings.checks)


@router.delete("/{waiver_id}", response_model=CheckWaiverRead)
def withdraw_waiver(
    postmortem_id: UUID, waiver_id: UUID, session: SessionDep, caller: Writer
) -> CheckWaiverRead:
    """Withdraw a waiver: the finding counts again. The waiver stays on the record with who
    withdrew it and when."""
    return waivers_flow.withdraw(session, postmortem_id, waiver_id, caller)
