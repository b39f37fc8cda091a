"""DynamoDB adapter for payout accounts (chalicelib.services.payout_accounts.PayoutAccountStore)."""

from __future__ import annotations

from chalicelib.adapters.dynamodb_closing import save_while_open
from chalicelib.adapters.dynamodb_models import PayoutAccount
from chalicelib.domain.payout_accounts import StoredPayoutAccount


class DynamoDbPayoutAccounts:
    def save_account(self, account: StoredPayoutAccount) -> bool:
        """Saved, on condition that the citizen's account is not closed (False: closed,
        nothing saved)."""
        item = PayoutAccount(
            account.citizen_id,
            bank_code=account.bank_code,
            account_ciphertext=account.account_ciphertext,
            account_last4=account.account_last4,
            holder=account.holder,
            updated_at=account.updated_at,
        )
        return save_while_open(account.citizen_id, item)

    def account(self, citizen_id: str) -> StoredPayoutAccount | None:
        try:
            return stored_account(PayoutAccount.get(citizen_id, consistent_read=True))
        except PayoutAccount.DoesNotExist:
            return None


def stored_account(item: PayoutAccount) -> StoredPayoutAccount:
    return StoredPayoutAccount(
        citizen_id=item.citizen_id,
        bank_code=item.bank_code,
        account_ciphertext=item.account_ciphertext,
        account_last4=item.account_last4,
        holder=item.holder,
        updated_at=item.updated_at,
    )
