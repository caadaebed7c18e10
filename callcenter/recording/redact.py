"""Redaction of long spoken number sequences (card, identity, insurance numbers).

A run of words that are digits or spoken digits ("four", "사", "7") adding up to at least
``min_digits`` digits is replaced word by word with ``[number]``, keeping the timings, so
the player still seeks correctly and nobody reads the number back from the transcript.
"""

from __future__ import annotations

from typing import Any

REDACTED = "[number]"

# Digits as spoken: English, Sino-Korean and native Korean counting words, Mandarin.
_SPOKEN_DIGITS = frozenset(
    [
        "zero",
        "oh",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "영",
        "공",
        "일",
        "이",
        "삼",
        "사",
        "오",
        "육",
        "칠",
        "팔",
        "구",
        "십",
        "하나",
        "둘",
        "셋",
        "넷",
        "다섯",
        "여섯",
        "일곱",
        "여덟",
        "아홉",
        "零",
        "〇",
        "一",
        "二",
        "三",
        "四",
        "五",
        "六",
        "七",
        "八",
        "九",
        "幺",
        "两",
    ]
)


def _digit_count(word: str) -> int:
    token = word.strip().lower().strip(".,-")
    if token.isdigit():
        return len(token)
    return 1 if token in _SPOKEN_DIGITS else 0


def redact_words(words: list[dict[str, Any]], min_digits: int) -> list[dict[str, Any]]:
    """A copy of ``words`` ({"word", "start", "end", ...}) with long number runs redacted."""
    result = [dict(w) for w in words]
    run: list[int] = []
    digits = 0

    def close_run() -> None:
        if digits >= min_digits:
            for index in run:
                result[index]["word"] = REDACTED
                result[index].pop("conf", None)

    for index, word in enumerate(words):
        count = _digit_count(str(word.get("word", "")))
        if count:
            run.append(index)
            digits += count
            continue
        close_run()
        run, digits = [], 0
    close_run()
    return result


def words_text(words: list[dict[str, Any]]) -> str:
    """The transcript line of a word list, with runs of ``[number]`` shown once."""
    out: list[str] = []
    for word in words:
        text = str(word.get("word", ""))
        if text == REDACTED and out and out[-1] == REDACTED:
            continue
        out.append(text)
    return " ".join(out)
