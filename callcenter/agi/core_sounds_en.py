"""The English core sounds Asterisk's ``SAY`` commands play, re-spoken in the prompts' voice.

Debian's English core sounds are another speaker (Allison): an appointment read as "Your
appointment is on" (Piper) then "Monday November twenty third" (Allison) sounds like two
people. Asterisk's ``main/say.c`` speaks ``en`` from these files under ``<sounds>/en/digits/``
(``ast_say_number_full_en``, ``ast_say_date_with_format_en``, the digit reader):

- numbers: ``0``-``19``, tens ``20``-``90``, ``hundred``, ``thousand``, ``million``,
  ``billion``, ``minus``; ``oh`` before a single-digit minute ("three oh five");
- date and time parts: ``day-0``-``day-6`` (Sunday first), ``mon-0``-``mon-11``, ``h-1``-``h-31``
  (ordinal day of the month), ``oclock``, ``a-m``/``p-m``, ``today``/``yesterday``/``tomorrow``,
  ``at``;
- ``star`` and ``pound`` for SAY DIGITS of ``*`` and ``#``.

Rendered as ``.wav`` beside Debian's ``.gsm`` files: Asterisk plays the cheaper format to
translate, the 8 kHz signed-linear WAV.
"""

from __future__ import annotations

from typing import Final

_ONES: Final = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS: Final = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty"}
_TENS.update({70: "seventy", 80: "eighty", 90: "ninety"})
_ORDINAL_ONES: Final = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
]


# Sunday first, as say.c numbers them (day-0); spelled out, not from the locale.
_DAYS: Final = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MONTHS: Final = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _ordinal(day: int) -> str:
    """1-31 as an ordinal word: "twenty third"."""
    if day < 20:
        return _ORDINAL_ONES[day - 1]
    tens, ones = divmod(day, 10)
    if ones == 0:
        return _TENS[tens * 10][:-1] + "ieth"
    return f"{_TENS[tens * 10]} {_ORDINAL_ONES[ones - 1]}"


def say_files() -> dict[str, str]:
    """Sound name (``digits/...``) -> the English text to render."""
    files: dict[str, str] = {f"digits/{n}": word for n, word in enumerate(_ONES)}
    files.update({f"digits/{tens}": word for tens, word in _TENS.items()})
    files.update({f"digits/day-{d}": name for d, name in enumerate(_DAYS)})
    files.update({f"digits/mon-{m}": name for m, name in enumerate(_MONTHS)})
    files.update({f"digits/h-{day}": _ordinal(day) for day in range(1, 32)})
    files.update(
        {
            "digits/hundred": "hundred",
            "digits/thousand": "thousand",
            "digits/million": "million",
            "digits/billion": "billion",
            "digits/minus": "minus",
            "digits/oh": "oh",
            "digits/oclock": "o'clock",
            "digits/a-m": "A M",
            "digits/p-m": "P M",
            "digits/today": "today",
            "digits/yesterday": "yesterday",
            "digits/tomorrow": "tomorrow",
            "digits/at": "at",
            "digits/star": "star",
            "digits/pound": "pound",
        }
    )
    return files
