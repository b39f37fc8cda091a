"""DynamoDB reads of citizen support's look-up (DESIGN §4b): at most two requests. A phone
number's holder is its link (one GetItem by the keyed hash); the citizen's row and payout
account are one BatchGetItem."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.adapters.dynamodb_citizens import citizen_of
from chalicelib.adapters.dynamodb_models import Citizen, PayoutAccount, PhoneLink
from chalicelib.adapters.dynamodb_payout_accounts import stored_account
from chalicelib.adapters.dynamodb_reads import batch_get
from chalicelib.domain.citizens import CitizenCard


class DynamoDbCitizenCards:
    @staticmethod
    def phone_holder(phone_hash: str) -> str | None:
        try:
            return PhoneLink.get(phone_hash, consistent_read=True).citizen_id
        except DoesNotExist:
            return None

    @staticmethod
    def card(citizen_id: str) -> CitizenCard | None:
        found = {
            type(item): item
            for item in batch_get([(Citizen, citizen_id, None), (PayoutAccount, citizen_id, None)])
        }
        citizen = found.get(Citizen)
        if not isinstance(citizen, Citizen):
            return None
        account = found.get(PayoutAccount)
        return CitizenCard(
            citizen_of(citizen),
            stored_account(account) if isinstance(account, PayoutAccount) else None,
        )
