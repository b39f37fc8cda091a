"""`GET /v1/banks` (DESIGN §4): the banks a payout account may name, for anyone (an app
shows them as a list before a citizen types one). Read from the one reader
`PUT /v1/me/payout-account` judges with, so the list is exactly what is accepted."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import answers, api_view

bp = Blueprint(__name__)


@bp.route("/v1/banks", methods=["GET"])
@api_view
@answers("me_schemas:BankList")
def get_banks() -> dict[str, Any]:
    """The banks a payout account may name: codes, Korean and English names, aliases."""
    from chalicelib.domain.payout_accounts import banks

    return {
        "banks": [
            {"code": b.code, "name_ko": b.name, "name_en": b.name_en, "aliases": list(b.aliases)}
            for b in banks().values()
        ]
    }
