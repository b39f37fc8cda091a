"""Payout accounts in the city's terms (DESIGN §4 payout account): which bank a citizen
means, what an account number may look like, how a stored one is shown back, and the
context that binds its ciphertext to its citizen. Plain values and rules only."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from chalicelib.domain import names
from chalicelib.errors import Unprocessable

BANKS_FILE = Path(__file__).resolve().parent.parent / "data" / "banks.json"

ACCOUNT_DIGITS = (10, 16)
HOLDER_MAX = 30


# Banks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    """The Korean name (what a passbook and the transfer file show)."""
    name_en: str
    aliases: tuple[str, ...]


def _folded(text: str) -> str:
    """How a bank's name compares: case, width and spacing do not matter."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


@lru_cache(maxsize=4)
def banks(path: Path = BANKS_FILE) -> dict[str, Bank]:
    """Every bank a payout account may name, by code (chalicelib/data/banks.json; also
    what `GET /v1/banks` lists)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        b["code"]: Bank(b["code"], b["name_ko"], b["name_en"], tuple(b.get("aliases", ())))
        for b in data["banks"]
    }


@lru_cache(maxsize=4)
def _bank_names(path: Path = BANKS_FILE) -> dict[str, str]:
    names: dict[str, str] = {}
    for bank in banks(path).values():
        for name in (bank.name, bank.name_en, *bank.aliases):
            names[_folded(name)] = bank.code
    return names


def resolve_bank(text: str) -> Bank | None:
    """A bank by its 3-digit code (`"088"`) or any of its names (`"신한"`, `"Shinhan"`,
    `"신한은행"`, `"Shinhan Bank"`)."""
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
