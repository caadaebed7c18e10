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
import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from callcenter.errors import CallcenterError
from callcenter.recording.blind_index import BlindIndex
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
        self.index = BlindIndex.derived_from(key)

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
        """Write ``target`` (atomically, synced to disk) as the encrypted form of ``source``."""
        size = source.stat().st_size
        with source.open("rb") as reader:
            self.encrypt_blocks(iter(lambda: reader.read(CHUNK), b""), size, target)

    def encrypt_blocks(self, blocks: Iterator[bytes], size: int, target: Path) -> None:
        """Write ``target`` from ``size`` plaintext bytes given in blocks of ``CHUNK`` bytes
        (the last may be shorter), as :meth:`decrypt_range` yields them: a file moves from
        one key to another without its plaintext touching the disk."""
        prefix = os.urandom(_PREFIX)
        count = max(1, -(-size // CHUNK))
        partial = target.with_name(target.name + ".part")
        with partial.open("wb") as writer:
            writer.write(MAGIC + prefix)
            for index in range(count):
                block = next(blocks, b"")
                writer.write(self._aead.encrypt(_nonce(prefix, index), block, _aad(index, count)))
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(partial, target)
        fsync_dir(target.parent)

    def opens(self, path: Path) -> bool:
        """True when this key opens the file's first chunk (cheap: the key check of rekey)."""
        try:
            next(self.decrypt_range(path, 0, 1), None)
        except DecryptionFailed:
            return False
        return True

    def plaintext_digest(self, path: Path) -> str:
        """SHA-256 of the whole decrypted file; raises DecryptionFailed if any chunk fails."""
        digest = hashlib.sha256()
        for block in self.decrypt_range(path):
            digest.update(block)
        return digest.hexdigest()

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

    def opens_text(self, token: str) -> bool:
        try:
            self.decrypt_text(token)
        except DecryptionFailed:
            return False
        return True

    def decrypt_text(self, token: str) -> str:
        if not token.startswith(_TEXT_PREFIX):
            raise DecryptionFailed("not an encrypted transcript")
        try:
            raw = base64.b64decode(token[len(_TEXT_PREFIX) :])
            return self._aead.decrypt(raw[:12], raw[12:], b"transcript").decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionFailed("transcript failed authentication") from None


def file_digest(path: Path) -> str:
    """SHA-256 of a plaintext file (compared with :meth:`RecordingCipher.plaintext_digest`)."""
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while block := reader.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` survive a power cut (POSIX)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(index: int, count: int) -> bytes:
    return struct.pack(">I?", index, index == count - 1)
