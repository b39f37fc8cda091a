"""The OpenAPI document names each thing once (issue 23): one component per closed value
set, one per answer shape, and the sets the document names are referenced wherever else
they appear (query parameters, request fields), so a generated client gets one enum class
per set and one class per shape; the citizen's and the staff's views of one thing (a
ledger page, an account, a shelter) are one definition, the staff's a superset."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from typing import Any

from pydantic import RootModel

from tests.contract import document


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = document()["components"]["schemas"]
    return schemas


def _value_sets() -> dict[str, frozenset[str]]:
    return {
        name: frozenset(schema["enum"]) for name, schema in _schemas().items() if "enum" in schema
    }


def _inline_enums(node: Any, at: str) -> list[tuple[str, frozenset[str]]]:
    """Every enum written out inside `node` (a component's part, a parameter's schema)."""
    found = []
    if isinstance(node, dict):
        if "enum" in node:
            found.append((at, frozenset(node["enum"])))
        for key, value in node.items():
            found += _inline_enums(value, f"{at}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            found += _inline_enums(value, f"{at}/{n}")
    return found


def _everywhere_but_the_named_sets() -> list[tuple[str, frozenset[str]]]:
    found = _inline_enums(document()["paths"], "paths")
    for name, schema in _schemas().items():
        for key, value in schema.items():
            found += _inline_enums(value, f"components/{name}/{key}")
    return found


def test_no_two_components_describe_one_value_set() -> None:
    by_values: dict[frozenset[str], list[str]] = defaultdict(list)
    for name, values in _value_sets().items():
        by_values[values].append(name)
    assert [names for names in by_values.values() if len(names) > 1] == []
    # and each is a plain string enum with a name and a meaning (one clean client class)
    for name in _value_sets():
        schema = _schemas()[name]
        assert schema["type"] == "string" and schema["title"] == name, name
        assert schema.get("description"), f"{name} says what its values mean"


def test_a_named_value_set_is_never_written_out_again() -> None:
    named = {values: name for name, values in _value_sets().items()}
    again = [
        (at, named[values]) for at, values in _everywhere_but_the_named_sets() if values in named
    ]
    assert again == [], "reference the component instead"
    # the sets left inline (a filter's `all`, `true|false`) appear once each: no two classes
    seen: dict[frozenset[str], list[str]] = defaultdict(list)
    for at, values in _everywhere_but_the_named_sets():
        seen[values].append(at)
    assert [places for places in seen.values() if len(places) > 1] == []


def test_the_query_filters_name_their_value_sets() -> None:
    paths = document()["paths"]
    wanted = {
        ("/v1/shelters", "district"): "District",
        ("/v1/robots", "district"): "District",
        ("/v1/admin/alerts", "district"): "District",
        ("/v1/admin/alerts", "kind"): "AlertKind",
        ("/v1/admin/alerts", "severity"): "AlertSeverity",
        ("/v1/leaderboards/steps", "period"): "Period",
        ("/v1/leaderboards/districts", "period"): "Period",
        ("/v1/leaderboards/steps", "scope"): "BoardScope",
        ("/v1/admin/corrections", "status"): "CorrectionStatus",
        ("/v1/admin/quarantine", "source"): "QuarantineSource",
        ("/v1/admin/payout-runs/{run_id}/export", "format"): "ExportFormat",
    }
    for (path, name), component in wanted.items():
        (parameter,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        assert parameter["schema"].get("$ref") == f"#/components/schemas/{component}", (path, name)


def _answer_components() -> set[str]:
    """The components some success body is, and the components those are made of."""
    found: set[str] = set()

    def refs(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    refs(_schemas()[name])
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    for methods in document()["paths"].values():
        for operation in methods.values():
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    refs(response)
    return found


def _shape(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k not in ("title", "description")}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


def test_no_two_answer_components_have_one_shape() -> None:
    by_shape: dict[str, list[str]] = defaultdict(list)
    for name in _answer_components():
        by_shape[repr(_shape(_schemas()[name]))].append(name)
    assert [sorted(names) for names in by_shape.values() if len(names) > 1] == []


def test_the_staffs_views_are_the_citizens_and_more() -> None:
    schemas = _schemas()
    paths = document()["paths"]

    def answer(path: str) -> str:
        body = paths[path]["get"]["responses"]["200"]["content"]["application/json"]
        ref: str = body["schema"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    assert answer("/v1/me/ledger") == answer("/v1/admin/citizens/{citizen_id}/ledger")
    card, account = schemas["CitizenCard"], schemas["Profile"]
    assert set(card["properties"]) - {"status"} < set(account["properties"])
    for name, field in card["properties"].items():
        if name != "status":
            assert field == account["properties"][name], name
    staff, public = schemas["StaffShelter"], schemas[answer("/v1/shelters/{device_id}")]
    assert set(staff["properties"]) == {*public["properties"], "override"}
    assert {k: v for k, v in staff["properties"].items() if k != "override"} == public["properties"]


def test_the_answer_modules_share_one_base_and_one_enum_style() -> None:
    import chalicelib.api as api
    from chalicelib.api.common_schemas import Answer

    for module_info in pkgutil.iter_modules(api.__path__):
        if not module_info.name.endswith("_schemas"):
            continue
        module = importlib.import_module(f"chalicelib.api.{module_info.name}")
        for name, value in vars(module).items():
            if not isinstance(value, type) or value.__module__ != module.__name__:
                continue
            assert not issubclass(value, RootModel), f"{module.__name__}.{name}: a named_enum"
            assert name != "Answer" or value is Answer, f"a second Answer: {module.__name__}"
    assert {c.__name__ for c in Answer.__subclasses__()} >= {"Account", "Shelter", "LedgerPage"}
