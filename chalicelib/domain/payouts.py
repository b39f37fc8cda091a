"""Payouts in the city's terms (DESIGN §4 payout account and runs, §5 threshold, §6).

Plain values and rules only: which bank a citizen means, what an account number may look
like and how it is shown back, which period a run pays, what a payout posting is, the
transfer file, what a settlement may change, and what an audit of one citizen finds.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from chalicelib.domain import names
from chalicelib.domain.clock import SEOUL
from chalicelib.domain.ledger import (
    Account,
    ChunkPaid,
    LedgerEntry,
    PayoutRecorded,
    PayoutRunCounted,
    PayoutSettled,
    Posting,
    earned_by,
    paid_by,
)
from chalicelib.errors import Unprocessable

BANKS_FILE = Path(__file__).resolve().parent.parent / "data" / "banks.json"

ACCOUNT_DIGITS = (10, 16)
HOLDER_MAX = 30
MEMO_MAX = 20
CSV_COLUMNS = ("citizen_id", "bank_code", "account_number", "holder", "amount", "memo")

RunStatus = Literal["running", "ready", "settled"]
ItemStatus = Literal["pending", "paid", "failed"]


# Banks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    aliases: tuple[str, ...]


def _folded(text: str) -> str:
    """How a bank's name compares: case, width and spacing do not matter."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


@lru_cache(maxsize=4)
def banks(path: Path = BANKS_FILE) -> dict[str, Bank]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        b["code"]: Bank(b["code"], b["name"], tuple(b.get("aliases", ()))) for b in data["banks"]
    }


@lru_cache(maxsize=4)
def _bank_names(path: Path = BANKS_FILE) -> dict[str, str]:
    names: dict[str, str] = {}
    for bank in banks(path).values():
        for name in (bank.name, *bank.aliases):
            names[_folded(name)] = bank.code
    return names


def resolve_bank(text: str) -> Bank | None:
    """A bank by its 3-digit code (`"088"`) or a short name (`"Shinhan"`, `"신한은행"`)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    if text in banks():
        return banks()[text]
    code = _bank_names().get(_folded(text))
    return banks()[code] if code else None


# The account ----------------------------------------------------------------------------

_ACCOUNT = re.compile(r"[0-9]+(-[0-9]+)*")


@dataclass(frozen=True)
class PayoutAccountDetails:
    """What a citizen gave, judged: the bank's code, the number's digits, the holder."""

    bank_code: str
    account_digits: str
    holder: str

    @property
    def last4(self) -> str:
        return self.account_digits[-4:]


@dataclass(frozen=True)
class StoredPayoutAccount:
    """A payout account as kept: the number only as ciphertext and its last 4 digits."""

    citizen_id: str
    bank_code: str
    account_ciphertext: str
    account_last4: str
    holder: str
    updated_at: datetime


def judge_account(bank: object, account_number: object, holder: object) -> PayoutAccountDetails:
    """The account a citizen asks to be paid to, or a 422 naming every bad field."""
    problems: list[dict[str, str]] = []
    found = resolve_bank(bank) if isinstance(bank, str) else None
    if found is None:
        problems.append({"field": "bank", "problem": "not a known bank code or name"})
    digits = ""
    if not isinstance(account_number, str) or len(account_number) > 40:
        problems.append({"field": "account_number", "problem": "give digits and hyphens"})
    elif not _ACCOUNT.fullmatch(account_number):
        problems.append({"field": "account_number", "problem": "only digits and hyphens"})
    else:
        digits = account_number.replace("-", "")
        low, high = ACCOUNT_DIGITS
        if not low <= len(digits) <= high:
            problems.append({"field": "account_number", "problem": f"{low} to {high} digits"})
    name: str | None = None
    try:
        # The city's one rule for names (chalicelib.domain.names), in its holder form.
        name = names.judge(holder, names.HOLDER)
    except names.NameRefused as e:
        problems.append(e.detail("holder"))
    if problems:
        raise Unprocessable(
            "the payout account is not acceptable", code="invalid_payout_account",
            details=problems,
        )  # fmt: skip
    assert found is not None and name is not None
    return PayoutAccountDetails(found.code, digits, name)


def masked_number(last4: str) -> str:
    """The only way a stored account number is ever shown: its last 4 digits."""
    return f"******{last4}"


def masked_view(account: StoredPayoutAccount) -> dict[str, str]:
    bank = banks().get(account.bank_code)
    return {
        "bank_code": account.bank_code,
        "bank_name": bank.name if bank else account.bank_code,
        "account_number": masked_number(account.account_last4),
        "holder": account.holder,
    }


def encryption_context(citizen_id: str) -> dict[str, str]:
    """Binds a ciphertext to its citizen: decrypting it as anyone else's account fails."""
    return {"purpose": "payout-account", "citizen_id": citizen_id}


# Periods and runs ------------------------------------------------------------------------

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)


def parse_period(text: object) -> Period:
    """`YYYY-MM`, a real month; anything else is a 422 naming `period`."""
    m = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise Unprocessable(
            "the period must be a month, YYYY-MM",
            code="invalid_period",
            details=[{"field": "period", "problem": "YYYY-MM"}],
        )
    return Period(int(m.group(1)), int(m.group(2)))


def scheduled_period(fired_at: datetime) -> Period:
    """The month a scheduled run pays: the one that just ended in Seoul (the schedule fires
    on the 1st at 03:00 Asia/Seoul)."""
    return Period.of(fired_at.astimezone(SEOUL).date()).previous


def run_id_for(period: Period) -> str:
    """One run per period: its id is the period's, so two starts meet on one key."""
    return f"payout-{period}"


def payout_guard(run_id: str, citizen_id: str) -> str:
    return f"payout#{run_id}#{citizen_id}"


def reversal_guard(run_id: str, citizen_id: str) -> str:
    return f"payout-reversal#{run_id}#{citizen_id}"


def memo_for(period: Period | str) -> str:
    """What the recipient's passbook shows: at most 20 characters."""
    return f"김해포인트 {period}"[:MEMO_MAX]


def payout_posting(
    run_id: str,
    period: str,
    account: Account,
    paid_to: StoredPayoutAccount,
    at: datetime,
    chunk: tuple[str, str] | None = None,
) -> Posting:
    """Debit the whole balance and record the payout item (and count it on its chunk), in
    one posting."""
    return Posting(
        guard_key=payout_guard(run_id, account.citizen_id),
        account=account,
        points=-account.balance,
        kind="payout",
        detail={"run_id": run_id, "period": period},
        at=at,
        effects=(
            PayoutRecorded(
                run_id=run_id,
                citizen_id=account.citizen_id,
                period=period,
                amount=account.balance,
                bank_code=paid_to.bank_code,
                account_ciphertext=paid_to.account_ciphertext,
                account_last4=paid_to.account_last4,
                holder=paid_to.holder,
            ),
            *((ChunkPaid(*chunk),) if chunk else ()),
        ),
    )


def reversal_posting(
    run_id: str, amount: int, account: Account, admin_id: str, at: datetime
) -> Posting:
    """Credit a failed transfer back, mark its item failed and count it, in one posting."""
    return Posting(
        guard_key=reversal_guard(run_id, account.citizen_id),
        account=account,
        points=amount,
        kind="payout_reversal",
        detail={"run_id": run_id, "reason": "transfer_failed"},
        at=at,
        effects=(
            PayoutSettled(run_id, account.citizen_id, "failed", admin_id),
            PayoutRunCounted(run_id, failed_items=1, failed_points=amount),
        ),
    )


@dataclass(frozen=True)
class PayoutItem:
    run_id: str
    citizen_id: str
    period: str
    amount: int
    bank_code: str
    account_ciphertext: str
    account_last4: str
    holder: str
    status: ItemStatus
    created_at: datetime
    settled_at: datetime | None = None
    settled_by: str | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    period: str
    status: RunStatus
    started_at: datetime
    started_by: str
    chunks_expected: int
    chunks_done: int
    citizens: int
    total_points: int
    skipped_no_account: int
    skipped_below_threshold: int
    paid_items: int = 0
    paid_points: int = 0
    failed_items: int = 0
    failed_points: int = 0
    ready_at: datetime | None = None
    settled_at: datetime | None = None

    @property
    def pending_items(self) -> int:
        return self.citizens - self.paid_items - self.failed_items

    @property
    def pending_points(self) -> int:
        return self.total_points - self.paid_points - self.failed_points


@dataclass
class ChunkTally:
    """What one chunk of a run did, from the state it found and left (so a redelivered
    chunk counts the same)."""

    citizens: int = 0
    points: int = 0
    no_account: int = 0
    below_threshold: int = 0

    def paid(self, amount: int) -> None:
        self.citizens += 1
        self.points += amount


# Settlement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettleRequest:
    paid: tuple[str, ...]
    failed: tuple[str, ...]


SettleStep = Literal["apply", "unchanged", "conflict"]


def settle_step(current: ItemStatus, wanted: Literal["paid", "failed"]) -> SettleStep:
    """A pending item takes either outcome once; the same outcome again changes nothing; the
    other outcome after one is a conflict (money already moved one way)."""
    if current == "pending":
        return "apply"
    return "unchanged" if current == wanted else "conflict"


def judge_settlement(paid: Sequence[str], failed: Sequence[str], limit: int) -> SettleRequest:
    both = sorted(set(paid) & set(failed))
    if both:
        raise Unprocessable(
            "a citizen cannot be both paid and failed",
            code="conflicting_outcomes",
            details=[{"citizen_id": c} for c in both[:50]],
        )
    if not paid and not failed:
        raise Unprocessable("name at least one citizen", code="nothing_to_settle")
    if len(set(paid)) + len(set(failed)) > limit:
        raise Unprocessable(f"at most {limit} citizens per request", code="too_many_citizens")
    return SettleRequest(tuple(dict.fromkeys(paid)), tuple(dict.fromkeys(failed)))


# The transfer file -------------------------------------------------------------------------


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


# Audit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditedCitizen:
    """A citizen's account as the audit read it."""

    citizen_id: str
    balance: int
    lifetime_earned: int
    lifetime_paid: int


@dataclass(frozen=True)
class Discrepancy:
    citizen_id: str
    problem: str
    balance: int
    ledger_sum: int
    detail: str = ""


@dataclass
class AuditTally:
    citizens_checked: int = 0
    points_issued: int = 0
    points_paid: int = 0
    points_held: int = 0
    discrepancies: list[Discrepancy] = field(default_factory=list)


def audit_citizen(citizen: AuditedCitizen, entries: Sequence[LedgerEntry]) -> list[Discrepancy]:
    """Invariant 2 for one citizen: the entries, in the order the balance moved, chain (each
    `balance_after` is the previous plus its points, never below zero), and the balance and
    lifetime totals equal their sums."""
    found: list[Discrepancy] = []
    running = earned = paid = 0
    for entry in sorted(entries, key=lambda e: e.entry_id):
        running += entry.points
        earned += earned_by(entry.kind, entry.points)
        paid += paid_by(entry.kind, entry.points)
        if entry.balance_after != running and not any(d.problem == "chain_broken" for d in found):
            found.append(
                Discrepancy(
                    citizen.citizen_id, "chain_broken", citizen.balance, running,
                    f"entry {entry.entry_id}: balance_after {entry.balance_after}",
                )
            )  # fmt: skip
        if running < 0 and not any(d.problem == "negative_balance" for d in found):
            found.append(
                Discrepancy(citizen.citizen_id, "negative_balance", citizen.balance, running)
            )
    if citizen.balance != running:
        found.append(Discrepancy(citizen.citizen_id, "balance_mismatch", citizen.balance, running))
    if citizen.balance < 0 and not any(d.problem == "negative_balance" for d in found):
        found.append(Discrepancy(citizen.citizen_id, "negative_balance", citizen.balance, running))
    if citizen.lifetime_earned != earned or citizen.lifetime_paid != paid:
        found.append(
            Discrepancy(
                citizen.citizen_id, "lifetime_mismatch", citizen.balance, running,
                f"earned {citizen.lifetime_earned} vs {earned}, paid {citizen.lifetime_paid}"
                f" vs {paid}",
            )
        )  # fmt: skip
    return found


def city_totals(
    issued: int, ledger_paid: int, held: int, runs: Sequence[RunSummary]
) -> dict[str, object]:
    """Invariant 3: points issued == paid + held + pending in payouts. Paid and pending come
    from the runs' settlement counters, held from the balances, issued from the ledger: three
    independent records that must agree."""
    paid = sum(r.paid_points for r in runs)
    pending = sum(r.pending_points for r in runs)
    return {
        "points_issued": issued,
        "points_paid": paid,
        "points_held": held,
        "points_pending": pending,
        "ledger_points_paid": ledger_paid,
        "balanced": issued == paid + held + pending and ledger_paid == paid + pending,
        "difference": issued - (paid + held + pending),
    }


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
