"""Deterministic fake people and fake numbers for leakscan's samples and evaluation corpus.

Every value is invented: names are drawn from common characters, resident IDs carry a real
province prefix, a real birth date and a correct GB 11643 (ISO 7064 MOD 11-2) check character,
mobiles come from real number segments, plates from the 31 province characters. Nothing here is
looked up from real records.

Two name/region pools exist (``"samples"`` and ``"corpus"``) so the committed samples and the
held-out corpus do not share text. The same seed always gives the same values.

Also here: the ``render_*`` functions that write a value in the ways real pages do (full-width
digits, separators, country codes …) and :func:`normalize` which gives the normalized form the
report contract fingerprints.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
import unicodedata
from dataclasses import dataclass, field

from stdnum import luhn
from stdnum.cn import uscc as _uscc
from stdnum.iso7064 import mod_11_2

CN_ID_CARD = "CN_ID_CARD"
CN_MOBILE = "CN_MOBILE"
CN_LICENSE_PLATE = "CN_LICENSE_PLATE"

#: Real 2-digit province codes of GB/T 2260.
PROVINCE_CODES: tuple[str, ...] = (
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
)

#: A few real 6-digit county codes, some abolished or renamed since (340823 枞阳县 → 340722,
#: 110103 崇文区, 110104 宣武区, 320121 江宁县, 430104 renamed districts …). IDs issued there stay valid.
COUNTY_CODES_SAMPLES: tuple[str, ...] = ("340823", "340822", "340828", "110102", "110105", "110103")
COUNTY_CODES_CORPUS: tuple[str, ...] = (
    "110104", "320121", "430104", "440105", "510107", "370102", "420106", "610103", "530102",
    "410105", "220102", "650102", "350102", "210102",
)

#: The 31 province characters of mainland plates.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
#: Plate letters: A–Z without I and O.
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

#: Real mobile number segments (3-digit prefixes).
MOBILE_PREFIXES: tuple[str, ...] = tuple(
    [str(n) for n in range(130, 140)]
    + ["145", "146", "147", "148", "149"]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + ["162", "165", "166", "167"]
    + [str(n) for n in range(170, 179)]
    + [str(n) for n in range(180, 190)]
    + ["190", "191", "192", "193", "195", "196", "197", "198", "199"]
)

#: Bank identification numbers of China UnionPay debit cards (62xxxx).
BANK_BINS: tuple[str, ...] = ("622202", "621700", "622848", "621226", "622588", "623668", "621661", "622260")

LANDLINE_AREA_CODES: tuple[str, ...] = (
    "010", "021", "022", "023", "0551", "0556", "0554", "0731", "028", "0871", "029", "0571", "0591",
)

_SURNAMES_SAMPLES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
_SURNAMES_CORPUS = "肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江"
_GIVEN_SAMPLES = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
_GIVEN_CORPUS = "建国志文海燕春梅德福荣庆凤云晓东亮宇欣怡子涵浩然俊峰雪莉佳琪振宏瑞"

#: Characters a page uses in place of hidden digits.
MASK_CHARS = "*＊×●○"

_FULLWIDTH = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@dataclass(frozen=True, slots=True)
class Person:
    """A fake person: name, sex, resident ID, mobile."""

    name: str
    male: bool
    resident_id: str
    mobile: str

    @property
    def sex(self) -> str:
        """性别 as a page writes it."""
        return "男" if self.male else "女"


class FakeData:
    """Seeded generator of fake people and fake identifiers.

    :param seed: the seed; the same seed and pool give the same sequence of values.
    :param pool: ``"samples"`` or ``"corpus"``, choosing disjoint name and county pools.
    """

    def __init__(self, seed: int = 0, pool: str = "samples") -> None:
        if pool not in ("samples", "corpus"):
            raise ValueError(f"unknown pool {pool!r}")
        self.rng = random.Random(seed)
        self.pool = pool
        self._surnames = _SURNAMES_SAMPLES if pool == "samples" else _SURNAMES_CORPUS
        self._given = _GIVEN_SAMPLES if pool == "samples" else _GIVEN_CORPUS
        self._counties = COUNTY_CODES_SAMPLES if pool == "samples" else COUNTY_CODES_CORPUS

    # -- people ---------------------------------------------------------------------------------

    def name(self) -> str:
        """A two- or three-character name."""
        given = "".join(self.rng.choice(self._given) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(self._surnames) + given

    def person(self, **id_kwargs: object) -> Person:
        """A fake person with a consistent sex and resident ID."""
        male = self.rng.random() < 0.6
        rid = self.resident_id(male=male, **id_kwargs)  # type: ignore[arg-type]
        return Person(self.name(), male, rid, self.mobile())

    def birth_date(self, first_year: int = 1950, last_year: int = 2005) -> _dt.date:
        """A real calendar date between 1 January ``first_year`` and 31 December ``last_year``."""
        start = _dt.date(first_year, 1, 1).toordinal()
        end = _dt.date(last_year, 12, 31).toordinal()
        return _dt.date.fromordinal(self.rng.randint(start, end))

    def area_code(self) -> str:
        """A 6-digit area code: a real county code from the pool, or a real province prefix."""
        if self.rng.random() < 0.5:
            return self.rng.choice(self._counties)
        return self.rng.choice(PROVINCE_CODES) + f"{self.rng.randint(1, 9):02d}{self.rng.randint(1, 29):02d}"

    def resident_id(
        self,
        *,
        area: str | None = None,
        birth: _dt.date | None = None,
        male: bool | None = None,
        check_x: bool | None = None,
    ) -> str:
        """An 18-character resident ID with a correct check character.

        :param check_x: True forces a check character ``X``, False forbids it, None leaves it to chance.
        """
        area = area or self.area_code()
        birth = birth or self.birth_date()
        if male is None:
            male = self.rng.random() < 0.5
        for _ in range(10_000):
            seq = self.rng.randint(0, 99) * 10 + self.rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
            body = f"{area}{birth:%Y%m%d}{seq:03d}"
            check = mod_11_2.calc_check_digit(body)
            if check_x is None or (check == "X") == check_x:
                return body + check
        raise RuntimeError("no sequence number gives the requested check character")  # pragma: no cover

    def old_resident_id(self, *, male: bool | None = None) -> str:
        """A 15-digit first-generation ID (area + YYMMDD + sequence), birth 1950–1984."""
        area = self.area_code()
        birth = self.birth_date(1950, 1984)
        if male is None:
            male = self.rng.random() < 0.5
        seq = self.rng.randint(0, 99) * 10 + self.rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
        return f"{area}{birth:%y%m%d}{seq:03d}"

    def mobile(self) -> str:
        """An 11-digit mobile number from a real segment."""
        prefix = self.rng.choice(MOBILE_PREFIXES)
        if prefix == "174":  # only 1740/1741 (satellite, emergency) and 1749 are assigned
            return prefix + self.rng.choice("019") + f"{self.rng.randint(0, 9_999_999):07d}"
        return prefix + f"{self.rng.randint(0, 99_999_999):08d}"

    # -- vehicles -------------------------------------------------------------------------------

    def plate(self, kind: str = "normal", province: str | None = None, authority: str | None = None) -> str:
        """A licence plate in normalized form (no separator).

        :param kind: ``normal`` (5 characters), ``ev_small`` (D/F + 5), ``ev_large`` (5 + D/F),
            ``trailer`` (4 + 挂), ``learner`` (4 + 学), ``police`` (4 + 警).
        """
        rng = self.rng
        prov = province or rng.choice(PLATE_PROVINCES)
        auth = authority or rng.choice(PLATE_LETTERS)
        digits = "0123456789"
        if kind == "normal":
            chars = [rng.choice(digits) for _ in range(5)]
            roll = rng.random()
            if roll < 0.3:
                chars[rng.randrange(5)] = rng.choice(PLATE_LETTERS)
            elif roll < 0.4:
                chars[0] = rng.choice(PLATE_LETTERS)
                chars[1] = rng.choice(PLATE_LETTERS)
            tail = "".join(chars)
        elif kind == "ev_small":
            second = rng.choice(PLATE_LETTERS) if rng.random() < 0.3 else rng.choice(digits)
            tail = rng.choice("DF") + second + "".join(rng.choice(digits) for _ in range(4))
        elif kind == "ev_large":
            tail = "".join(rng.choice(digits) for _ in range(5)) + rng.choice("DF")
        elif kind in ("trailer", "learner", "police"):
            suffix = {"trailer": "挂", "learner": "学", "police": "警"}[kind]
            tail = "".join(rng.choice(digits) for _ in range(4)) + suffix
        else:
            raise ValueError(f"unknown plate kind {kind!r}")
        return prov + auth + tail

    # -- hard negatives -------------------------------------------------------------------------

    def bank_card(self, length: int | None = None) -> str:
        """A Luhn-valid UnionPay card number (62xxxx BIN), 16–19 digits."""
        length = length or self.rng.choice((16, 19, 19, 17, 18))
        body = self.rng.choice(BANK_BINS) + "".join(self.rng.choice("0123456789") for _ in range(length - 7))
        return body + luhn.calc_check_digit(body)

    def landline(self, area_code: str | None = None, sep: str = "-") -> str:
        """An office landline such as ``0556-5212345``."""
        code = area_code or self.rng.choice(LANDLINE_AREA_CODES)
        width = 8 if len(code) == 3 else self.rng.choice((7, 8))
        local = str(self.rng.randint(2, 8)) + "".join(self.rng.choice("0123456789") for _ in range(width - 1))
        return f"{code}{sep}{local}"

    def uscc(self, area: str | None = None) -> str:
        """A unified social credit code valid per GB 32100 (and its embedded GB 11714 org code)."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        auth_type = self.rng.choice(("91", "92", "93", "11", "12", "52"))
        area = area or self.area_code()
        if self.rng.random() < 0.5:
            org_body = "MA" + "".join(self.rng.choice(alphabet) for _ in range(6))
        else:
            org_body = "".join(self.rng.choice("0123456789") for _ in range(8))
        code_body = auth_type + area + org_body + org_check_char(org_body)
        code = code_body + _uscc.calc_check_digit(code_body)
        assert _uscc.is_valid(code)
        return code

    def digits(self, n: int, first: str = "123456789") -> str:
        """A run of ``n`` random digits whose first digit comes from ``first``."""
        return self.rng.choice(first) + "".join(self.rng.choice("0123456789") for _ in range(n - 1))

    def amount(self, low: float = 50.0, high: float = 20_000.0) -> str:
        """A money amount with two decimals, e.g. ``3,560.00``."""
        cents = self.rng.randint(int(low * 100), int(high * 100))
        return f"{cents // 100:,}.{cents % 100:02d}"


def org_check_char(body: str) -> str:
    """GB 11714 organization-code check character for an 8-character body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


# -- validation helpers (used by tests and to keep hard negatives clean) --------------------------


def is_valid_resident_id(value: str) -> bool:
    """True when an 18-character ID has a real province prefix, a real date and the right check character."""
    if len(value) != 18 or not value[:17].isdigit() or value[:2] not in PROVINCE_CODES:
        return False
    try:
        _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return mod_11_2.calc_check_digit(value[:17]) == value[17].upper()


def mask_chars_to_star(value: str) -> str:
    """Write every masking character as ``*``."""
    return "".join("*" if c in MASK_CHARS else c for c in value)


# -- renderers: how pages write a value ------------------------------------------------------------


def fullwidth(value: str) -> str:
    """Digits (and X) as full-width characters: ``１１０１…``."""
    return value.translate(_FULLWIDTH)


def render_id(value: str, style: str = "plain") -> str:
    """Write an 18-character ID (or a masked one) in one of the ways pages do.

    Styles: ``plain``, ``fullwidth``, ``lower_x``, ``times_x`` (× as check character),
    ``space_684`` / ``hyphen_684`` (6-8-4 groups), ``space_44442`` (4-4-4-4-2 groups).
    """
    if style == "plain":
        return value
    if style == "fullwidth":
        return fullwidth(value)
    if style == "lower_x":
        return value[:-1] + value[-1].lower()
    if style == "times_x":
        return value[:-1] + ("×" if value[-1] == "X" else value[-1])
    if style == "space_684":
        return f"{value[:6]} {value[6:14]} {value[14:]}"
    if style == "hyphen_684":
        return f"{value[:6]}-{value[6:14]}-{value[14:]}"
    if style == "space_44442":
        return " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    raise ValueError(f"unknown ID style {style!r}")


def render_mobile(value: str, style: str = "plain") -> str:
    """Write a mobile number: ``plain``, ``plus86``, ``plus86_space``, ``0086``, ``86dash``,
    ``space_344``, ``dash_344``, ``fullwidth``."""
    if style == "plain":
        return value
    if style == "plus86":
        return "+86" + value
    if style == "plus86_space":
        return "+86 " + value
    if style == "0086":
        return "0086" + value
    if style == "86dash":
        return "86-" + value
    if style == "space_344":
        return f"{value[:3]} {value[3:7]} {value[7:]}"
    if style == "dash_344":
        return f"{value[:3]}-{value[3:7]}-{value[7:]}"
    if style == "fullwidth":
        return fullwidth(value)
    raise ValueError(f"unknown mobile style {style!r}")


PLATE_SEPARATORS: dict[str, str] = {"middot": "·", "bullet": "•", "dot": ".", "hyphen": "-", "space": " "}


def render_plate(value: str, style: str = "plain") -> str:
    """Write a plate: ``plain`` or with a separator after the authority letter
    (``middot`` ·, ``bullet`` •, ``dot`` ., ``hyphen`` -, ``space``)."""
    if style == "plain":
        return value
    return value[:2] + PLATE_SEPARATORS[style] + value[2:]


def normalize(entity: str, rendered: str) -> str:
    """The normalized value the report contract fingerprints, from a rendered value."""
    text = unicodedata.normalize("NFKC", rendered)
    if entity == CN_ID_CARD:
        text = "".join(c for c in text if c not in " -\u00a0")
        if len(text) == 18 and text[:17].isdigit() and text[17] in "xX×":
            text = text[:17] + "X"
        return mask_chars_to_star(text)
    if entity == CN_MOBILE:
        digits = "".join(c for c in text if c.isdigit() or c in MASK_CHARS)
        for prefix in ("0086", "86"):
            if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
                digits = digits[len(prefix):]
        return mask_chars_to_star(digits)
    if entity == CN_LICENSE_PLATE:
        return "".join(c for c in rendered if c not in " ·•.-\u00a0").upper()
    raise ValueError(f"unknown entity {entity!r}")


# -- truth records ---------------------------------------------------------------------------------


@dataclass
class Truth:
    """The values planted in one file, one entry per occurrence, in the order planted."""

    source: str
    items: list[dict[str, str]] = field(default_factory=list)

    def add(self, entity: str, rendered: str, variant: str, exposure: str = "unmasked") -> str:
        """Record a planted value and return it as rendered."""
        self.items.append({
            "source": self.source,
            "entity": entity,
            "exposure": exposure,
            "value": normalize(entity, rendered),
            "variant": variant,
        })
        return rendered

    def id(self, value: str, style: str = "plain") -> str:
        """Plant a resident ID written in ``style``."""
        return self.add(CN_ID_CARD, render_id(value, style), f"id:{style}")

    def mobile(self, value: str, style: str = "plain") -> str:
        """Plant a mobile written in ``style``."""
        return self.add(CN_MOBILE, render_mobile(value, style), f"mobile:{style}")

    def plate(self, value: str, style: str = "plain", kind: str = "normal") -> str:
        """Plant a plate written in ``style``."""
        return self.add(CN_LICENSE_PLATE, render_plate(value, style), f"plate:{kind}:{style}")


def dump_truth(items: list[dict[str, str]]) -> bytes:
    """Truth items as JSON, one entry per line so diffs stay readable."""
    import json

    lines = ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)
    return f"[\n{lines}\n]\n".encode()


# -- a naive reference detector: keeps hard negatives honest ---------------------------------------

_REF_ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_REF_ID15 = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9])")
_REF_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_REF_PLATE = re.compile(f"[{PLATE_PROVINCES}][{PLATE_LETTERS}][ ·•.-]?[0-9{PLATE_LETTERS}]{{4,6}}[挂学警]?")


def reference_hits(text: str) -> list[str]:
    """Kinds of personal-looking values a plain regex finds in ``text`` (valid IDs, mobile-shaped
    11-digit runs, plate-shaped runs, 15-digit runs with a real date). Used to keep generated hard
    negatives free of anything a reasonable detector should report."""
    text = unicodedata.normalize("NFKC", text)
    hits: list[str] = []
    hits += ["id18" for m in _REF_ID18.finditer(text) if is_valid_resident_id(m.group().upper())]
    for m in _REF_ID15.finditer(text):
        v = m.group()
        try:
            _dt.date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
        except ValueError:
            continue
        if v[:2] in PROVINCE_CODES:
            hits.append("id15")
    hits += ["mobile" for _ in _REF_MOBILE.finditer(text)]
    hits += ["plate" for m in _REF_PLATE.finditer(text) if sum(c.isdigit() for c in m.group()) >= 3]
    return hits
