"""KMS adapter: a citizen's payout account number, encrypted with the data key; and
larger secrets (a quarantined message as it arrived) sealed under a data key of their own.

Each ciphertext carries an encryption context naming its owner (a citizen, a quarantine
entry), so a ciphertext copied onto another record does not decrypt. Nothing here logs a
plaintext.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from chalicelib import config
from chalicelib.adapters import aws_clients

SEALED_PREFIX = "v1."
"""A sealed text: `v1.<KMS-encrypted data key>.<nonce + AES-256-GCM ciphertext>` (base64)."""

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

    def seal(self, plaintext: str, context: dict[str, str]) -> str:
        """Envelope encryption for texts over KMS's 4 KB: one GenerateDataKey, then
        AES-256-GCM here (the context is the cipher's associated data too), compressed
        first (a device message is repetitive JSON)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = aws_clients.client("kms").generate_data_key(
            KeyId=self._key(), KeySpec="AES_256", EncryptionContext=context
        )
        nonce = os.urandom(12)
        sealed = AESGCM(key["Plaintext"]).encrypt(
            nonce, zlib.compress(plaintext.encode("utf-8")), _associated(context)
        )
        parts = (bytes(key["CiphertextBlob"]), nonce + sealed)
        return SEALED_PREFIX + ".".join(base64.b64encode(p).decode("ascii") for p in parts)

    def unseal(self, sealed: str, context: dict[str, str]) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not sealed.startswith(SEALED_PREFIX):
            raise ValueError("not a sealed text")
        wrapped, box = (base64.b64decode(p) for p in sealed[len(SEALED_PREFIX) :].split("."))
        key = aws_clients.client("kms").decrypt(
            KeyId=self._key(), CiphertextBlob=wrapped, EncryptionContext=context
        )["Plaintext"]
        opened = AESGCM(bytes(key)).decrypt(box[:12], box[12:], _associated(context))
        return zlib.decompress(opened).decode("utf-8")


def _associated(context: dict[str, str]) -> bytes:
    return "\n".join(f"{k}={v}" for k, v in sorted(context.items())).encode("utf-8")
