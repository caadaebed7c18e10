"""The keyed blind index of transcript words."""

from __future__ import annotations

from callcenter.recording.blind_index import BlindIndex, words
from callcenter.recording.crypto import RecordingCipher, generate_key


def _index(key: str) -> BlindIndex:
    cipher = RecordingCipher.from_setting(key)
    assert cipher is not None
    return cipher.index


def test_tokens_are_keyed_and_never_the_words() -> None:
    key = generate_key()
    first, again, other = _index(key), _index(key), _index(generate_key())
    tokens = first.tokens("Hello, appointment in cardiology")
    assert tokens == again.tokens("hello APPOINTMENT in Cardiology!")
    assert set(tokens).isdisjoint(other.tokens("hello appointment in cardiology"))
    assert len(tokens) == 4 and all(len(t) == 32 for t in tokens)
    assert not any(w in "".join(tokens) for w in ("hello", "cardiology"))


def test_words_are_normalised_and_redaction_marks_left_out() -> None:
    assert words("Ｈｅｌｌｏ, [number] 내과에 (예약)!") == ["hello", "내과에", "예약"]
    assert _index(generate_key()).tokens("[number] ...") == []


def test_a_search_digest_compares_equal_searches_only() -> None:
    index = _index(generate_key())
    assert index.digest("Grace  Hopper") == index.digest("grace hopper!")
    assert index.digest("grace hopper") != index.digest("hopper grace")
    assert "grace" not in index.digest("grace hopper")
