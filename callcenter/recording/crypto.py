"""Encryption at rest for processed audio and transcripts (AES-256-GCM, ``cryptography``).

Audio is encrypted in independent chunks so it can be decrypted while it streams to the
browser, and a byte range can be served without decrypting the whole file. File layout::

    MAGIC | nonce prefix (8 bytes) | chunk* ; chunk = ciphertext of <= CHUNK bytes + 16-byte tag

Chunk ``i`` uses nonce ``prefix || i`` (4 bytes, big-endian) and associated data ``i`` plus a
"last chunk" flag, so reordering, dropping or truncating chunks fails authentication.
Transcript text uses one random nonce per value: ``v1:`` + base64(nonce || ciphertext).
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callcenter.errors import CallcenterError
from callcenter.recording.errors import BadRecordingKey

MAGIC = b"CCREC1\n"
CHUNK = 64 * 1024
_TAG = 16
_PREFIX = 8
_HEADER = len(MAGIC) + _PREFIX
_TEXT_PREFIX = "v1:"


class DecryptionFailed(CallcenterError):
    """Wrong key, or the file was changed or cut short."""


def generate_key() -> str:
    """A new key for ``recording.key``."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


class RecordingCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise BadRecordingKey("recording.key must decode to 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, value: str) -> RecordingCipher | None:
        """None when no key is configured; raises BadRecordingKey on a malformed one."""
        if not value:
            return None
        try:
            key = base64.urlsafe_b64decode(value.encode())
        except (binascii.Error, ValueError):
            raise BadRecordingKey("recording.key is not URL-safe base64") from None
        return cls(key)

    # -- files -------------------------------------------------------------------------------

    def encrypt_file(self, source: Path, target: Path) -> None:
        """Write ``target`` (atomically) as the encrypted form of ``source``."""
        prefix = os.urandom(_PREFIX)
        size = source.stat().st_size
        count = max(1, -(-size // CHUNK))
        partial = target.with_name(target.name + ".part")
        with source.open("rb") as reader, partial.open("wb") as writer:
            writer.write(MAGIC + prefix)
            for index in range(count):
                block = reader.read(CHUNK)
                writer.write(self._aead.encrypt(_nonce(prefix, index), block, _aad(index, count)))
        os.replace(partial, target)

    def plaintext_size(self, path: Path) -> int:
        body = path.stat().st_size - _HEADER
        full, rest = divmod(body, CHUNK + _TAG)
        return full * CHUNK + max(0, rest - _TAG)

    def decrypt_range(self, path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext bytes ``start``..``end`` (exclusive), chunk by chunk."""
        size = self.plaintext_size(path)
        end = size if end is None else min(end, size)
        count = max(1, -(-size // CHUNK))
        with path.open("rb") as reader:
            header = reader.read(_HEADER)
            if not header.startswith(MAGIC):
                raise DecryptionFailed("not an encrypted recording")
            prefix = header[len(MAGIC) :]
            first = start // CHUNK
            reader.seek(_HEADER + first * (CHUNK + _TAG))
            for index in range(first, count):
                if index * CHUNK >= end:
                    break
                block = reader.read(CHUNK + _TAG)
                try:
                    plain = self._aead.decrypt(_nonce(prefix, index), block, _aad(index, count))
                except InvalidTag:
                    raise DecryptionFailed("recording failed authentication") from None
                low = max(start - index * CHUNK, 0)
                high = min(end - index * CHUNK, len(plain))
                yield plain[low:high]

    # -- text --------------------------------------------------------------------------------

    def encrypt_text(self, text: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, text.encode(), b"transcript")
        return _TEXT_PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt_text(self, token: str) -> str:
        if not token.startswith(_TEXT_PREFIX):
            raise DecryptionFailed("not an encrypted transcript")
        raw = base64.b64decode(token[len(_TEXT_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], b"transcript").decode()
        except InvalidTag:
            raise DecryptionFailed("transcript failed authentication") from None


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(index: int, count: int) -> bytes:
    return struct.pack(">I?", index, index == count - 1)
