"""The vendors' published contracts in ../shared/contracts, and validators built from them.

The folder is never copied into the repository. Tests that need it skip with a reason on a bare
clone; on CI (CI=true) its absence is an error.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "contracts"


def contracts_dir() -> Path:
    if not CONTRACTS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(
                f"vendor contracts missing at {CONTRACTS}; CI must run with ../shared beside the repo"
            )
        pytest.skip(
            f"vendor contracts not found at {CONTRACTS} (../shared is not beside this clone)"
        )
    return CONTRACTS


def load_json(relative: str) -> Any:
    return json.loads((contracts_dir() / relative).read_text())


@dataclass
class _Request:
    """The request shape openapi-core validates (its Request protocol)."""

    host_url: str
    path: str
    method: str
    parameters: Any
    content_type: str
    body: bytes | None

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


class OpenAPIContract:
    """Validates requests against a vendor OpenAPI description, with `servers` set to the fake."""

    def __init__(self, spec_file: str, base_url: str) -> None:
        from openapi_core import OpenAPI

        spec = dict(_spec_dict(spec_file))
        spec["servers"] = [{"url": base_url}]
        self.openapi = OpenAPI.from_dict(spec)
        self.base_url = base_url

    def violations(self, method: str, url: str, headers: dict[str, str], body: bytes) -> list[str]:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        parts = urlsplit(url)
        query = ImmutableMultiDict(
            [(k, v) for k, values in parse_qs(parts.query).items() for v in values]
        )
        parameters = RequestParameters(
            query=query, header=Headers(list(headers.items())), cookie=ImmutableMultiDict()
        )
        content_type = headers.get(
            "content-type", headers.get("Content-Type", "application/json")
        ).split(";")[0]
        request = _Request(
            host_url=self.base_url,
            path=parts.path,
            method=method.lower(),
            parameters=parameters,
            content_type=content_type,
            body=body or None,
        )
        try:
            self.openapi.validate_request(request)
        except Exception as exc:  # openapi-core raises a family of validation errors
            details = "; ".join(str(e) for e in getattr(exc, "schema_errors", []) or [])
            return [f"{method} {parts.path}: {exc}" + (f" ({details})" if details else "")]
        return []


@cache
def _spec_dict(spec_file: str) -> dict[str, Any]:
    return json.loads((contracts_dir() / spec_file).read_text())  # type: ignore[no-any-return]


class GraphQLContract:
    """Validates GraphQL documents and their variables against Linear's published schema."""

    def __init__(self, schema_file: str = "linear/schema.graphql") -> None:
        self.schema = _graphql_schema(schema_file)

    def violations(self, query: str, variables: dict[str, Any] | None) -> list[str]:
        from graphql import parse, validate
        from graphql.error import GraphQLError
        from graphql.utilities import type_from_ast, validate_input_value

        try:
            document = parse(query)
        except GraphQLError as exc:
            return [f"GraphQL syntax: {exc.message}"]
        errors = [f"GraphQL: {e.message}" for e in validate(self.schema, document)]
        if errors:
            return errors
        variables = variables or {}
        for definition in document.definitions:
            for var in getattr(definition, "variable_definitions", None) or []:
                name = var.variable.name.value
                var_type = type_from_ast(self.schema, var.type)
                if name not in variables:
                    if var.type.kind == "non_null_type" and var.default_value is None:
                        errors.append(f"variable ${name} is required")
                    continue
                validate_input_value(
                    variables[name],
                    var_type,  # type: ignore[arg-type]
                    lambda error, path, _n=name: errors.append(
                        f"variable ${_n}{''.join(f'.{p}' for p in path)}: {error.message}"
                    ),
                )
        return errors


@cache
def _graphql_schema(schema_file: str) -> Any:
    from graphql import build_schema

    return build_schema((contracts_dir() / schema_file).read_text())
