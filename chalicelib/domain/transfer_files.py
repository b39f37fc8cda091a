"""The transfer file of a payout run (DESIGN §4 export): its rows, the CSV for systems and
the spreadsheet for people, and the memo a recipient's passbook shows."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.payout_runs import Period

MEMO_MAX = 20
CSV_COLUMNS = ("citizen_id", "bank_code", "account_number", "holder", "amount", "memo")


def memo_for(period: Period | str) -> str:
    """What the recipient's passbook shows: at most 20 characters."""
    return f"김해포인트 {period}"[:MEMO_MAX]


@dataclass(frozen=True)
class TransferRow:
    citizen_id: str
    bank_code: str
    account_number: str
    holder: str
    amount: int
    memo: str


def transfer_csv(rows: Iterable[TransferRow]) -> bytes:
    """DESIGN §4's neutral bulk-transfer file: UTF-8 with a BOM (Excel in Korea reads it
    right), one row per citizen paid, CRLF line ends as spreadsheets write them.

    It is the file for systems (a bank's bulk upload), so values stay verbatim: bank codes
    and numbers as their digits (a person opens the xlsx, whose cells are text). A cell a
    spreadsheet would run as a formula cannot come from today's input rules (a holder starts
    with a letter; codes, numbers and amounts are digits); one kept from before them is
    defused as OWASP advises, with a leading apostrophe (formula_safe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            (
                formula_safe(r.citizen_id),
                formula_safe(r.bank_code),
                formula_safe(r.account_number),
                formula_safe(r.holder),
                r.amount,
                formula_safe(r.memo[:MEMO_MAX]),
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# The transfer file for people: a spreadsheet ------------------------------------------------

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TRANSFER_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": (XLSX_CONTENT_TYPE, "xlsx"),
}
"""Each export format: its content type and file extension (DESIGN §4 `?format=`)."""
TRANSFER_FORMAT_NAMES = tuple(TRANSFER_FORMATS)

# What Excel (and LibreOffice, Google Sheets) read as the start of a formula in a CSV cell,
# with the full-width forms a Korean or Japanese input method may type.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
_TEXT_COLUMNS = ("citizen_id", "bank_code", "account_number", "holder", "memo")
_WIDTH_RANGE = (8, 40)


def formula_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets an
    apostrophe in front (Excel hides it and keeps the rest as typed)."""
    return "'" + cell if cell[:1] in FORMULA_TRIGGERS else cell


def _display_width(text: str) -> int:
    """Columns a value takes on screen: Hangul and other wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def transfer_xlsx(rows: Sequence[TransferRow], created: datetime) -> bytes:
    """The same rows as transfer_csv, as a spreadsheet a person opens in Excel: citizen ids,
    bank codes, account numbers, holders and memos are text cells in text-formatted columns
    (Excel keeps `088` and all 16 digits, and never runs a text cell as a formula); amounts
    are numbers, so the sheet can sum them. `created` fixes the file's timestamp, so the same
    rows give the same bytes."""
    import xlsxwriter  # ~35 ms: only the export pays for it

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out,
        {
            "in_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    book.set_properties({"created": created.replace(tzinfo=None), "title": "transfers"})
    sheet = book.add_worksheet("transfers")
    text = book.add_format({"num_format": "@"})
    amount = book.add_format({"num_format": "#,##0"})
    header = book.add_format({"bold": True, "num_format": "@", "bottom": 1})
    widths = [_display_width(name) for name in CSV_COLUMNS]
    for col, name in enumerate(CSV_COLUMNS):
        sheet.write_string(0, col, name, header)
    for n, r in enumerate(rows, start=1):
        cells = (r.citizen_id, r.bank_code, r.account_number, r.holder, str(r.amount),
                 r.memo[:MEMO_MAX])  # fmt: skip
        for col, name in enumerate(CSV_COLUMNS):
            widths[col] = max(widths[col], _display_width(cells[col]))
            if name in _TEXT_COLUMNS:
                sheet.write_string(n, col, cells[col], text)
            else:
                sheet.write_number(n, col, r.amount, amount)
    low, high = _WIDTH_RANGE
    for col, name in enumerate(CSV_COLUMNS):
        width = min(max(widths[col] + 2, low), high)
        sheet.set_column(col, col, width, text if name in _TEXT_COLUMNS else amount)
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
