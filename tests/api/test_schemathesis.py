"""Property-based run of the whole API against its own spec: no 500s, no undocumented answers.

Bounded (MAX_EXAMPLES per operation) so the suite stays fast; every operation is exercised on
both databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

MAX_EXAMPLES = 20


# Schema-valid input can still break a domain rule the schema cannot express (an unknown team,
# incident times out of order, a state move not allowed): 422 and 409 are honest answers there.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422"]
            }
        }
    }
)


def _operations(app: FastAPI) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.schemathesis
def test_api_honours_its_spec(app: FastAPI, make_token: Callable[..., str]) -> None:
    headers = {"Authorization": f"Bearer {make_token('admin', 'schemathesis')}"}
    operations = _operations(app)
    assert len(operations) > 20
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            if case.headers and "Idempotency-Key" in case.headers:
                # Generated keys repeat across examples with other bodies, which the API rightly
                # refuses with 422 (tested on its own); keep the header, make each key fresh.
                case.headers["Idempotency-Key"] = uuid.uuid4().hex
            case.call_and_validate(headers=headers)

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
