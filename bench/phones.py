"""Citizens with a proven phone, for the benchmarks: linked as a citizen links one (a code by
SMS, read back, sent back), in-process on moto or over a local stack's API."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any


def register_in_process(citizen_id: str, display_name: str, number: str) -> None:
    """Under `mock_aws`: register through the services and prove the number with the code
    moto's SNS kept."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from chalicelib import config, wiring
    from chalicelib.domain.phone_proofs import e164
    from chalicelib.domain.phones import normalize_mobile
    from chalicelib.services.citizens import ProfileUpdate

    wiring.citizens().register(citizen_id, ProfileUpdate(display_name, "naeoe-dong"))
    sent = wiring.phones().send_code(citizen_id, normalize_mobile(number))
    to = e164(normalize_mobile(number))
    backend = sns_backends[DEFAULT_ACCOUNT_ID][config.region()]
    text = [t for phone, t in backend.sms_messages.values() if phone == to][-1]
    code = next(word for word in text.split() if word.isdigit() and len(word) == 6)
    wiring.phones().verify(citizen_id, sent.verification_id, code)


def register_over_http(api_url: str, token: str, state_dir: Path, number: str) -> None:
    """Against a local stack: PUT /v1/me, then the code from the local outbox."""
    from infra.local import outbox

    def call(method: str, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            api_url + path,
            method=method,
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    call("PUT", "/v1/me", {"display_name": "bench", "district": "naeoe-dong"})
    outbox.prove_phone(call, state_dir, number)
