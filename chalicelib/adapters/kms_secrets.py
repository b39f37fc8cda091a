"""KMS adapter: a citizen's payout account number, encrypted with the data key.

Each ciphertext carries an encryption context naming its citizen, so a ciphertext copied
onto another citizen's record does not decrypt. Nothing here logs a plaintext.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib import config
from chalicelib.adapters import aws_clients

DECRYPT_THREADS = 16
"""A transfer file decrypts one number per citizen: KMS answers in milliseconds, so 16 calls
in flight make 20,000 numbers a few seconds instead of a minute (KMS's shared quota for
Decrypt is thousands per second)."""


class KmsSecrets:
    def __init__(self, key_id: str | None) -> None:
        self._key_id = key_id

    def _key(self) -> str:
        if not self._key_id:
            raise RuntimeError(f"set {config.PAYOUT_KMS_KEY_ID}")
        return self._key_id

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        response = aws_clients.client("kms").encrypt(
            KeyId=self._key(), Plaintext=plaintext.encode("utf-8"), EncryptionContext=context
        )
        return base64.b64encode(response["CiphertextBlob"]).decode("ascii")

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        response = aws_clients.client("kms").decrypt(
            KeyId=self._key(),
            CiphertextBlob=base64.b64decode(ciphertext),
            EncryptionContext=context,
        )
        return bytes(response["Plaintext"]).decode("utf-8")

    def decrypt_many(self, items: Sequence[tuple[str, dict[str, str]]]) -> list[str]:
        """Many at once, in order (the client is thread-safe; one pool per call)."""
        if len(items) < 2:
            return [self.decrypt(c, ctx) for c, ctx in items]
        with ThreadPoolExecutor(DECRYPT_THREADS) as pool:
            return list(pool.map(lambda item: self.decrypt(*item), items))
