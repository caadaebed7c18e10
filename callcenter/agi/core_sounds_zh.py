"""The Mandarin core sounds Asterisk's ``SAY`` commands need, which Debian does not package.

Asterisk's ``main/say.c`` speaks ``zh`` (``ast_say_number_full_zh``,
``ast_say_date_with_format_zh``, and the generic digit reader) from these files under
``<sounds>/zh/digits/``:

- numbers: ``0``-``9``, ``10``-``12`` (12-hour clock), tens ``20``-``90`` (``21`` is ``20`` then
  ``1``), ``hundred``, ``thousand``, ``wan`` (10 000), ``yi`` (10^8), ``minus``;
- date and time parts: ``day-0``-``day-6`` (Sunday first), ``mon-0``-``mon-11``, ``day`` (日,
  after the day of the month), ``year`` (年), ``oclock`` (点, after the hour), ``a-m``/``p-m``
  (上午/下午), ``today``/``yesterday``;
- ``minute`` (分) and ``second`` (秒) at the top of ``zh/``: Asterisk 22 plays them from there
  (verified against the sandbox; older say.c used ``digits/minute``, also rendered);
- ``star`` and ``pound`` for SAY DIGITS of ``*`` and ``#``.

A file missing here is looked for in ``en`` by Asterisk, so a gap is heard in English, not as
silence: :func:`say_files` is checked against this list by the unit tests.
"""

from __future__ import annotations

from typing import Final

_DIGITS: Final = "零一二三四五六七八九"
_WEEKDAYS: Final = "日一二三四五六"


def _number(n: int) -> str:
    """0-99 in Chinese numerals, as the files are named (``digits/21`` is never asked for)."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def say_files() -> dict[str, str]:
    """Sound name (``digits/...``, ``minute``, ``second``) -> the Mandarin text to render."""
    files: dict[str, str] = {f"digits/{n}": _number(n) for n in range(13)}
    files.update({f"digits/{tens}": _number(tens) for tens in range(20, 100, 10)})
    files.update({f"digits/day-{d}": "星期" + _WEEKDAYS[d] for d in range(7)})
    files.update({f"digits/mon-{m}": _number(m + 1) + "月" for m in range(12)})
    files.update(
        {
            "digits/hundred": "百",
            "digits/thousand": "千",
            "digits/wan": "万",
            "digits/yi": "亿",
            "digits/minus": "负",
            "digits/day": "日",
            "digits/year": "年",
            "digits/oclock": "点",
            "digits/minute": "分",
            "digits/second": "秒",
            "minute": "分",
            "second": "秒",
            "digits/a-m": "上午",
            "digits/p-m": "下午",
            "digits/today": "今天",
            "digits/yesterday": "昨天",
            "digits/star": "星号",
            "digits/pound": "井号",
        }
    )
    return files


# SayUnixTime format for an appointment in Mandarin: "十一月 二十三日 星期一 下午 三点 [三十分]".
# The minutes are left out on the hour: say.c says minute 0 as "零零分".
DATETIME_FORMAT_ON_THE_HOUR: Final = "B d A p I"
DATETIME_FORMAT: Final = "B d A p I M"
