"""The committed spec is the contract other tools build against: it must match the app."""

import json
from pathlib import Path

from app.main import create_app
from app.settings import Settings

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_committed_spec_matches_the_app(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, secret_key="x"))
    committed = json.loads(SPEC.read_text())
    assert committed == json.loads(json.dumps(app.openapi())), (
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    )


def test_every_v1_operation_documents_problem_responses(tmp_path: Path) -> None:
    spec = json.loads(SPEC.read_text())
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            for status in ("401", "403", "422"):
                content = operation["responses"][status]["content"]
                assert "application/problem+json" in content, (
                    f"{method.upper()} {path} lacks {status}"
                )
