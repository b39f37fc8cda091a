"""The whole HTTP contract, every operation: a one-line summary, and for each success status
a body the document describes (a schema for JSON, the media type for files and pages). The
parts' own tests check their routes in depth; this one stops a new route from arriving
undescribed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract import document

pytestmark = pytest.mark.usefixtures("aws")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in document()["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_has_a_one_line_summary() -> None:
    missing = [f"{m} {p}" for m, p, op in _operations() if not op.get("summary")]
    assert not missing, missing
    long = [f"{m} {p}" for m, p, op in _operations() if len(op["summary"]) > 120]
    assert not long, long


def test_every_success_names_what_it_answers() -> None:
    undescribed = []
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            content = response.get("content") or {}
            if not content:
                undescribed.append(f"{method} {path} {status}: no content")
            for media, body in content.items():
                schema = body.get("schema") or {}
                if media == "application/json" and "$ref" not in schema:
                    undescribed.append(f"{method} {path} {status}: JSON without a model")
                if media != "application/json" and not schema:
                    undescribed.append(f"{method} {path} {status}: {media} without a schema")
    assert not undescribed, undescribed
