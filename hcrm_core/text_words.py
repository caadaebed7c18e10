"""How transcript words are compared in a search: one normal form, shared by the blind index
(callcenter's recording slice) and the search that confirms its candidates."""

from __future__ import annotations

import unicodedata


def normalise(word: str) -> str:
    """NFKC, case-folded, without surrounding punctuation or symbols ("Hello," -> "hello")."""
    folded = unicodedata.normalize("NFKC", word).casefold()
    start, end = 0, len(folded)
    while start < end and _is_punctuation(folded[start]):
        start += 1
    while end > start and _is_punctuation(folded[end - 1]):
        end -= 1
    return folded[start:end]


def normalised_words(text: str) -> list[str]:
    """The normalised words of ``text`` in order, empty ones left out."""
    return [word for word in (normalise(raw) for raw in text.split()) if word]


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char)[0] in ("P", "S")
