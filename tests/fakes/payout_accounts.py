"""Payout accounts and the secrets that seal their numbers, in memory."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.domain.payout_accounts import StoredPayoutAccount


class MemoryPayoutAccounts:
    """PayoutAccountStore in memory."""

    def __init__(self) -> None:
        self.accounts: dict[str, StoredPayoutAccount] = {}

    def save_account(self, account: StoredPayoutAccount) -> bool:
        self.accounts[account.citizen_id] = account
        return True  # no account closes in memory

    def account(self, citizen_id: str) -> StoredPayoutAccount | None:
        return self.accounts.get(citizen_id)


class FakeSecrets:
    """Reversible, bound to its context like KMS: the wrong citizen cannot decrypt."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        return base64.b64encode(json.dumps([context, plaintext]).encode()).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        bound, plaintext = json.loads(base64.b64decode(ciphertext))
        if bound != context:
            raise PermissionError("wrong encryption context")
        return str(plaintext)

    def decrypt_many(self, items: Any) -> list[str]:
        return [self.decrypt(c, ctx) for c, ctx in items]
