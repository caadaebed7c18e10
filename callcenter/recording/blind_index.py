"""A keyed blind index of transcript words: search encrypted transcripts without plaintext.

Each normalised word of a transcript is stored as ``HMAC-SHA256(index key, word)`` (hex, cut
to 128 bits) in ``transcript_terms``; a search computes the same tokens for its words and
decrypts only the transcripts holding all of them. The index key is derived from
``recording.key`` (HMAC with a fixed label), so the database alone never turns a token back
into a word, and rotating the key (``callcenter recordings rekey``) rebuilds the index.

What it still shows to someone holding the database but not the key: how many distinct words
a transcript has, and which transcripts share a word (equal tokens). Word order and counts are
not stored.
"""

from __future__ import annotations

import hashlib
import hmac

from callcenter.recording.redact import REDACTED
from hcrm_core.text_words import normalise

_LABEL = b"callcenter transcript blind index v1"
TOKEN_HEX = 32  # 128 bits: collisions only cost one extra decryption


def words(text: str) -> list[str]:
    """The normalised words of ``text``, in order (redaction marks and empty words left out)."""
    out = []
    for raw in text.split():
        if raw == REDACTED:
            continue
        word = normalise(raw)
        if word:
            out.append(word)
    return out


class BlindIndex:
    """Tokens for the words of a text, keyed so that only the key holder can compute them."""

    def __init__(self, index_key: bytes) -> None:
        self._key = index_key

    @classmethod
    def derived_from(cls, recording_key: bytes) -> BlindIndex:
        return cls(hmac.new(recording_key, _LABEL, hashlib.sha256).digest())

    def token(self, word: str) -> str:
        return hmac.new(self._key, word.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]

    def tokens(self, text: str) -> list[str]:
        """The distinct tokens of the words of ``text`` (sorted: no order is kept)."""
        return sorted({self.token(word) for word in words(text)})

    def digest(self, text: str) -> str:
        """A keyed hash of a whole search (for the audit log: comparable, not readable)."""
        normalised = " ".join(words(text))
        return hmac.new(self._key, b"query\x00" + normalised.encode(), hashlib.sha256).hexdigest()
