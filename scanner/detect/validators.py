"""Validators named by rule files (``validator: cn_id_card_18``).

A validator turns the matched text into the normalized value of the report contract
(:meth:`Validator.normalize`, masking characters written as ``*``) and decides whether it is a
real value (:meth:`Validator.is_valid`) or, for a partially masked one, whether what is still
readable is plausible (:meth:`Validator.is_plausible_masked`). Rule ``params`` reach the validator
once, at load time.
"""

from __future__ import annotations

import datetime as _dt
import operator
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from stdnum.cn import uscc

from scanner.errors import RuleError

MASK = "*"
#: Characters people use to mask digits. ``x``/``X``/``×`` only count as masks where a digit is
#: expected (the last ID character may legitimately be ``X``).
MASK_CHARS = frozenset("*＊×xX●○■□★☆◆◇#")

#: First two digits of GB/T 2260 province-level codes, plus 71 (Taiwan) and 81/82/83 residence permits.
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)

_SEPARATORS = str.maketrans("", "", " -·•.\u00a0\u3000")


_NOT_ASCII_DIGIT = re.compile("[^0-9]")


def _digits_or_masks(value: str) -> str:
    """Every character that is not a digit written as ``*``."""
    if value.isascii():  # then "not a digit" is "not 0-9", and every mask character is one
        return _NOT_ASCII_DIGIT.sub(MASK, value)
    return "".join(MASK if c in MASK_CHARS or not c.isdigit() else c for c in value)


def strip_separators(value: str) -> str:
    """Remove the separators people put between digit groups or plate parts."""
    return value.translate(_SEPARATORS)


class Validator:
    """Base class: subclasses set ``name`` and override the three methods."""

    name: ClassVar[str] = ""

    def __init__(self, params: Mapping[str, Any] | None = None, *, file: str = "?") -> None:
        self.params = dict(params or {})

    def normalize(self, raw: str) -> str:
        """The contract's normalized form of ``raw``: separators gone, masks written as ``*``."""
        return strip_separators(raw)

    def is_valid(self, value: str) -> bool:
        """True if the unmasked normalized ``value`` is a real value of this kind."""
        raise NotImplementedError

    def is_plausible_masked(self, value: str) -> bool:
        """True if the readable characters of a partially masked ``value`` fit this kind."""
        return True

    def lookalike(self, value: str) -> str | None:
        """Name of another kind of number that ``value`` also validates as, or None.

        Such a candidate is kept only when the context speaks for this kind.
        """
        return None


_EARLIEST = _dt.date(1880, 1, 1)
_EARLIEST_NUMBER = 18800101
_today: list[Any] = [float("-inf"), _dt.date.today(), 0]


def _refresh_today() -> None:
    now = time.monotonic()
    if now - _today[0] > 60.0:
        today = _dt.date.today()
        _today[:] = [now, today, today.year * 10000 + today.month * 100 + today.day]


def _today_date() -> _dt.date:
    """Today's date, looked up at most once a minute (``date.today()`` costs a system call)."""
    _refresh_today()
    return _today[1]  # type: ignore[no-any-return]


def _valid_date_number(n: int) -> bool:
    """:func:`_valid_date` of the date written as the number YYYYMMDD (from eight ASCII digits),
    mostly without building a date: a day up to 28 exists in every month."""
    _refresh_today()
    if n < _EARLIEST_NUMBER or n > _today[2]:
        return False
    month, day = n // 100 % 100, n % 100
    if not 1 <= month <= 12 or day < 1:
        return False
    return day <= 28 or _valid_date(n // 10000, month, day)


#: GB 11643 (ISO 7064 MOD 11-2) weights of the first 17 characters, and the check character for
#: each remainder of the weighted sum modulo 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


_ASCII_ZERO_WEIGHT = ord("0") * sum(_ID_WEIGHTS)


def id_check_char(body: str) -> str:
    """The GB 11643 check character of a 17-digit ASCII ``body`` (same as stdnum's
    ``mod_11_2.calc_check_digit``, without its generic-alphabet overhead: this runs per candidate)."""
    return _ID_CHECK[(sum(map(operator.mul, body.encode("ascii"), _ID_WEIGHTS)) - _ASCII_ZERO_WEIGHT) % 11]


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        born = _dt.date(year, month, day)
    except ValueError:
        return False
    return _EARLIEST <= born <= _today_date()


def _plausible_date_digits(digits: str) -> bool:
    """``digits`` is YYYYMMDD with ``*`` for hidden characters: check what can be read."""
    year, month, day = digits[:4], digits[4:6], digits[6:8]
    if MASK not in year[:2] and year[:2] not in ("18", "19", "20"):
        return False
    if MASK not in month and not 1 <= int(month) <= 12:
        return False
    if MASK not in day and not 1 <= int(day) <= 31:
        return False
    if MASK not in year and int(year) > _today_date().year:
        return False
    return True


_ASCII_ID_LAST = frozenset("0123456789Xx")


class CnIdCard18(Validator):
    """GB 11643 18-character ID: province, real birth date not in the future, MOD 11-2 check."""

    name = "cn_id_card_18"

    def normalize(self, raw: str) -> str:
        if raw[:-1].isdigit() and raw[-1:] in _ASCII_ID_LAST:  # the common case, unchanged result
            return raw if raw[-1] != "x" else raw[:-1] + "X"
        value = strip_separators(raw)
        body = value[:-1]
        if not body.isdigit():
            body = _digits_or_masks(body)
        last = value[-1:]
        if last in "xX×":
            # '×' at the end is the check character unless the body is masked too ("1101***×").
            last = "X" if MASK not in body or last != "×" else MASK
        elif last in MASK_CHARS:
            last = MASK
        return body + last

    def is_valid(self, value: str) -> bool:
        if len(value) != 18 or value[:2] not in PROVINCES:
            return False
        body = value[:17]
        if body.isascii() and body.isdigit():  # the common case, same verdict
            # MOD 11-2 weights are 2**k mod 11, and 13 ≡ 2 (mod 11): reading the body in base 13
            # gives the weighted sum (halved) modulo 11 in one C call.
            return _valid_date_number(int(value[6:14])) and _ID_CHECK[2 * int(body, 13) % 11] == value[17]
        if not _valid_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
            return False
        return body.isascii() and body.isdigit() and id_check_char(body) == value[17]

    def is_plausible_masked(self, value: str) -> bool:
        if len(value) != 18 or value[:2] not in PROVINCES:
            return False
        return _plausible_date_digits(value[6:14])

    def lookalike(self, value: str) -> str | None:
        # About 1 in 31 real IDs also passes the GB 32100 check, so this alone must not reject.
        return "统一社会信用代码" if uscc.is_valid(value) else None


class CnIdCard15(Validator):
    """Old 15-digit ID: province and a real 19YYMMDD birth date; there is no check digit."""

    name = "cn_id_card_15"

    def normalize(self, raw: str) -> str:
        value = strip_separators(raw)
        return value if value.isdigit() else _digits_or_masks(value)

    def is_valid(self, value: str) -> bool:
        if len(value) != 15 or value[:2] not in PROVINCES:
            return False
        if value.isascii() and value.isdigit():
            return _valid_date_number(19_000_000 + int(value[6:12]))
        return _valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))

    def is_plausible_masked(self, value: str) -> bool:
        if len(value) != 15 or value[:2] not in PROVINCES:
            return False
        return _plausible_date_digits("19" + value[6:12])


class CnMobile(Validator):
    """Mainland mobile: 11 digits in an assigned segment (``params.segments``: 3- or 4-digit prefixes)."""

    name = "cn_mobile"

    def __init__(self, params: Mapping[str, Any] | None = None, *, file: str = "?") -> None:
        super().__init__(params, file=file)
        segments = self.params.get("segments")
        if not isinstance(segments, list) or not segments or not all(
            isinstance(s, str) and s.isdigit() and len(s) in (3, 4) for s in segments
        ):
            raise RuleError(file, "params.segments", "需要由3位或4位数字号段组成的列表")
        self.segments3 = frozenset(s for s in segments if len(s) == 3)
        self.segments4 = frozenset(s for s in segments if len(s) == 4)

    def normalize(self, raw: str) -> str:
        if raw.isdigit():  # no separator is a digit: nothing to strip
            return raw
        value = strip_separators(raw)
        return value if value.isdigit() else _digits_or_masks(value)

    def _segment_ok(self, value: str) -> bool:
        return value[:3] in self.segments3 or value[:4] in self.segments4

    def is_valid(self, value: str) -> bool:
        return len(value) == 11 and value.isdigit() and self._segment_ok(value)

    def is_plausible_masked(self, value: str) -> bool:
        if len(value) != 11 or MASK in value[:3]:
            return False
        return value[:3] in self.segments3 or any(s.startswith(value[:3]) for s in self.segments4)


def _digit_or_mask(c: str) -> bool:
    return c.isdigit() or c == MASK


_PLATE_MASKS = str.maketrans(dict.fromkeys("*＊●○■□★☆◆◇#", MASK))
#: A separator or a mask character: what CnPlate.normalize removes or rewrites besides case.
_PLATE_ODD = re.compile("[" + re.escape(" -·•.\u00a0\u3000*＊●○■□★☆◆◇#") + "]").search


class CnPlate(Validator):
    """Licence plate: province, authority letter, and a serial shaped like a real one."""

    name = "cn_plate"
    _SUFFIXES = frozenset("警学挂领试超港澳")

    def __init__(self, params: Mapping[str, Any] | None = None, *, file: str = "?") -> None:
        super().__init__(params, file=file)
        provinces = self.params.get("provinces")
        if not isinstance(provinces, str) or len(provinces) != 31:
            raise RuleError(file, "params.provinces", "需要31个省级简称组成的字符串")
        self.provinces = frozenset(provinces)
        self.nev_letters = frozenset(str(self.params.get("nev_letters", "DF")))

    def normalize(self, raw: str) -> str:
        if _PLATE_ODD(raw) is None:  # the common case (str.translate costs a lookup per character)
            return raw.upper()
        return strip_separators(raw).upper().translate(_PLATE_MASKS)

    def _serial_ok(self, serial: str, masked: bool) -> bool:
        digit: Any = _digit_or_mask if masked else str.isdigit

        if serial[-1:] in self._SUFFIXES:
            body = serial[:-1]
            return len(body) == 4 and sum(map(digit, body)) >= 3
        if len(serial) == 5:
            return sum(map(digit, serial)) >= 3
        if len(serial) == 6:  # new-energy: D/F (or the extended letters) first, or last after five digits
            if serial[0] in self.nev_letters:
                return all(map(digit, serial[2:]))
            if serial[-1] in self.nev_letters:
                return all(map(digit, serial[:5]))
        return False

    def is_valid(self, value: str) -> bool:
        if value.startswith("使"):
            return len(value) == 7 and value[1:].isdigit()
        return len(value) >= 7 and value[0] in self.provinces and value[1].isalpha() and self._serial_ok(value[2:], False)

    def is_plausible_masked(self, value: str) -> bool:
        return len(value) >= 7 and value[0] in self.provinces and value[1].isalpha() and self._serial_ok(value[2:], True)


VALIDATORS: dict[str, type[Validator]] = {v.name: v for v in (CnIdCard18, CnIdCard15, CnMobile, CnPlate)}
