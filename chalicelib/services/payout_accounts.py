"""Payout accounts: where a citizen is paid (DESIGN §4 `PUT /v1/me/payout-account`). The
number is judged, encrypted under the citizen's context and kept with its last 4 digits;
nothing else ever sees it in clear but the transfer file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalicelib.domain.clock import Clock
from chalicelib.domain.closing import account_closed
from chalicelib.domain.payout_accounts import (
    StoredPayoutAccount,
    encryption_context,
    judge_account,
)


class PayoutAccountStore(Protocol):
    def save_account(self, account: StoredPayoutAccount) -> bool:
        """Saved; False when the citizen's account was closed (nothing saved)."""
        ...

    def account(self, citizen_id: str) -> StoredPayoutAccount | None: ...


class Secrets(Protocol):
    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...

    def decrypt_many(self, items: Sequence[tuple[str, dict[str, str]]]) -> list[str]: ...


class PayoutAccountService:
    def __init__(self, store: PayoutAccountStore, secrets: Secrets, clock: Clock) -> None:
        self._store = store
        self._secrets = secrets
        self._clock = clock

    def set_account(
        self, citizen_id: str, bank: object, account_number: object, holder: object
    ) -> StoredPayoutAccount:
        details = judge_account(bank, account_number, holder)
        stored = StoredPayoutAccount(
            citizen_id=citizen_id,
            bank_code=details.bank_code,
            account_ciphertext=self._secrets.encrypt(
                details.account_digits, encryption_context(citizen_id)
            ),
            account_last4=details.last4,
            holder=details.holder,
            updated_at=self._clock(),
        )
        if not self._store.save_account(stored):
            # the account closed since the route checked it: keep nothing of this account
            raise account_closed()
        return stored

    def account(self, citizen_id: str) -> StoredPayoutAccount | None:
        return self._store.account(citizen_id)
