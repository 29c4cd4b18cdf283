from uuid import UUID

from fastapi import APIRouter, Response

from app.auth.deps import Reader, Writer
from app.conditions import service as conditions_service
from app.conditions.schemas import ConditionCreate, ConditionList, ConditionRead, ConditionUpdate
from app.db import SessionDep
from app.postmortems import service as postmortems_service

router = APIRouter(prefix="/v1/postmortems/{postmortem_id}/conditions", tags=["conditions"])


@router.post("", status_code=201, response_model=ConditionRead)
def add_condition(
    postmortem_id: UUID, data: ConditionCreate, session: SessionDep, _: Writer
) -> ConditionRead:
    """Add a contributing condition (technical, process, knowledge, timing, other) with failure-mode tags."""
    postmortem = postmortems_service.get(session, postmortem_id)
    return ConditionRead.model_validate(
        conditions_service.add(session, postmortem, data), from_attributes=True
    )


@router.get("", response_model=ConditionList)
def list_conditions(postmortem_id: UUID, session: SessionDep, _: Reader) -> ConditionList:
    """All contributing conditions of a postmortem."""
    postmortems_service.get(session, postmortem_id)
    conditions = conditions_service.of_postmortem(session, postmortem_id)
    return ConditionList(
        items=[ConditionRead.model_validate(c, from_attributes=True) for c in conditions]
    )


@router.patch("/{condition_id}", response_model=ConditionRead)
def edit_condition(
    postmortem_id: UUID, condition_id: UUID, data: ConditionUpdate, session: SessionDep, _: Writer
) -> ConditionRead:
    """Change a contributing condition."""
    condition = conditions_service.edit(session, postmortem_id, condition_id, data)
    return ConditionRead.model_validate(condition, from_attributes=True)


@router.delete("/{condition_id}", status_code=204)
def delete_condition(
    postmortem_id: UUID, condition_id: UUID, session: SessionDep, _: Writer
) -> Response:
    """Remove a contributing condition."""
    conditions_service.delete(session, postmortem_id, condition_id)
    return Response(status_code=204)
