"""Detection: text segments → findings, through the rule recognizers.

Per batch of segments: find candidate windows in a few fast passes, fold full-width characters in
those windows only (offsets unchanged), run the rules' recognizers there, weigh the
context (words before the value within the rule's window, and the table column header), drop
what the context rules out, resolve overlaps by rule priority, and build findings that carry only
masked values, keyed fingerprints and a masked context snippet.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any, NamedTuple

import numpy as np
import regex

from scanner.detect.recognizer import REGEX_TIMEOUT_SECONDS, Hit, Prefilter, RuleRecognizer
from scanner.detect.rules import Rule
from scanner.detect.spec import DetectorSpec
from scanner.model import Finding, Segment

# Full-width ASCII (U+FF01–FF5E) → ASCII, ideographic space and no-break space → space, so that
# patterns only deal with ASCII digits. One character for one: offsets stay valid.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20, 0x00A0: 0x20, 0x2014: 0x2D, 0x2013: 0x2D, 0x2212: 0x2D, 0xFF0A: 0x2A})
# Masking symbols people use instead of '*'.
_MASK_SYMBOLS = "●○■□★☆◆◇"
_FOLD.update({ord(c): 0x2A for c in _MASK_SYMBOLS})
_NEEDS_FOLD = regex.compile(rf"[\uff01-\uff5e\u3000\u00a0\u2013\u2014\u2212{_MASK_SYMBOLS}]")
# The same mapping as a table indexed by code point: str.translate then never raises and catches
# a KeyError per unmapped character (3× faster on Chinese text; astral characters stay as they are).
_FOLD_TABLE = [_FOLD.get(cp, cp) for cp in range(0x10000)]

CONTEXT_RADIUS = 18
_LONG_NUMBER = regex.compile(r"[0-9０-９][0-9０-９Xx*＊]{3,}[0-9０-９Xx]")
# A 2–3 character name after a common surname, standing alone: masked in context snippets.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池乐"
)
_NAME = regex.compile(rf"(?<![\p{{Han}}])([{_SURNAMES}])([\p{{Han}}]{{1,2}})(?![\p{{Han}}])")
# A name right after a label, even with no space before the next word ("联系人李四电话…").
_NAME_LABELS = "姓名|联系人|当事人|申请人|车主|户主|代理人|法定代表人|经营者|驾驶员|持证人|业户|证人"
_LABELLED_NAME = regex.compile(
    rf"((?:{_NAME_LABELS})[:： ]*)"
    rf"([{_SURNAMES}])(\p{{Han}}{{1,2}})"
)


# Every match of a digit-anchored rule lies in a run of digits, masks and separators; the run is
# found in the unfolded text by classes that also hold every character folding into them.
_RUN_START = "0123456789"
_RUN_BODY = "0123456789*xX× -"
_BEFORE = 8  # a match may start this far before its run (+86, 0086-, （+86）)
_AFTER = 4  # … and end this far after it
# Windows are folded and searched as slices this much wider on each side, so that look-behinds
# and look-aheads see the text around them.
_MARGIN = 6


def _prefilter_pattern(pf: Prefilter) -> str:
    """A pattern matching the first character of every possible match (in unfolded text): one
    character class first, so that the search skips ahead at C speed, then a look-behind picks
    the group the character is in and a look-ahead tests the second character."""
    head = _char_class(_unfolded("".join(pf.first)))
    if pf.second is None:
        return head
    if len(pf.pairs) <= 1:
        return f"{head}(?={_char_class(_unfolded(''.join(pf.second)))})"
    branches = [f"(?<={_char_class(_unfolded(''.join(first)))})"
                + (f"(?={_char_class(_unfolded(''.join(nxt)))})" if nxt is not None else "")
                for first, nxt in pf.pairs]
    return f"{head}(?:{'|'.join(branches)})"


def _span_group(m: re.Match[str]) -> tuple[int, int, str]:
    return (*m.span(), m.group())


def _hit_start(h: Hit) -> int:
    return h.start


def _never(s: str) -> None:
    return None


_FOLDED = {chr(src): chr(dst) for src, dst in _FOLD.items()}


def _fold_match(m: re.Match[str]) -> str:
    return _FOLDED[m.group()]


def _unfolded(chars: str) -> frozenset[str]:
    """``chars`` plus every character :func:`fold` turns into one of them."""
    return frozenset(chars) | {chr(src) for src, dst in _FOLD.items() if chr(dst) in chars}


def _char_class(chars: frozenset[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


_RAW_RUN = re.compile(f"{_char_class(_unfolded(_RUN_START))}{_char_class(_unfolded(_RUN_BODY))}{{9,}}")
_NEEDS_FOLD_RE = re.compile(_NEEDS_FOLD.pattern)


def _utf16_units(text: str) -> Any:
    """The UTF-16 code units of ``text`` as a numpy array, or None when it has characters
    outside the Basic Multilingual Plane (then units and characters do not line up)."""
    data = text.encode("utf-16-le", "surrogatepass")
    return np.frombuffer(data, np.uint16) if len(data) == 2 * len(text) else None


def fold(text: str) -> str:
    """Fold full-width digits/letters and odd spaces to ASCII, one character for one."""
    return text.translate(_FOLD_TABLE) if _NEEDS_FOLD_RE.search(text) else text


def fingerprint(key: bytes, value: str) -> str:
    """HMAC-SHA256 of the normalized value under the run's key (report contract)."""
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


@dataclass(slots=True)
class _Candidate:
    recognizer: RuleRecognizer
    start: int
    end: int
    value: str
    exposure: str
    score: float
    shown: str = ""  # the value as reports show it (policy-masked), set when kept


class _Fingerprinter:
    """HMAC-SHA256 (RFC 2104) under one key, with the key's inner and outer hash states made
    once: per value it costs two SHA-256 state copies instead of a fresh HMAC set-up (2.5× faster;
    equal to :func:`fingerprint`, which the tests check)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class _Windows(NamedTuple):
    """The digit runs' windows, joined (see :meth:`Detector._digit_hits`)."""

    joined: str  #: the windows joined by newlines, folded where a pattern could tell
    starts: list[int]  #: where each window starts in ``joined`` (and one past the end)
    win_a: list[int]  #: where each window starts in the text
    run_start: list[int]  #: where its run starts in the text
    run_end: list[int]  #: … and ends
    count_for: dict[int, int]  #: per digit count a rule needs: how many windows (a prefix) meet it
    text_order: list[int] | None  #: each window's place among the windows in text order (None: in text order)


class _CharScan:
    """The prefilter passes as array operations on the text's code points (numpy), one table
    lookup per character: digit runs for the digit-anchored rules and the candidate starts of the
    prefiltered rules, both exactly as their ``re`` patterns (:data:`_RAW_RUN`,
    :func:`_prefilter_pattern`) would find them, in about half their time."""

    _START, _BODY, _SEP = 1, 2, 4

    def __init__(self, prefilters: list[Prefilter]) -> None:
        groups = sum(len(pf.pairs or ((pf.first, pf.second),)) for pf in prefilters)
        # U+FFFF stays 0: astral characters are looked up there
        table = np.zeros(0x10000, np.uint8 if 3 + 2 * groups <= 8 else np.uint16)

        def mark(chars: Iterable[str], bit: int) -> None:
            table[[ord(c) for c in chars]] |= bit

        mark(_unfolded(_RUN_START), self._START)
        mark(_unfolded(_RUN_BODY), self._BODY)
        mark(_unfolded(" -"), self._SEP)
        bit = 8
        self.groups: list[list[tuple[int, int | None]]] = []
        for pf in prefilters:
            rule_groups: list[tuple[int, int | None]] = []
            for first, nxt in pf.pairs or ((pf.first, pf.second),):
                mark(_unfolded("".join(first)), bit)
                if nxt is None:
                    rule_groups.append((bit, None))
                    bit <<= 1
                else:
                    mark(_unfolded("".join(nxt)), bit << 1)
                    rule_groups.append((bit, bit << 1))
                    bit <<= 2
            self.groups.append(rule_groups)
        #: Per rule: the second-character bits of its pairs and the bits of its single characters.
        self._pair_masks = [(sum(second for _, second in g if second is not None),
                             sum(first for first, second in g if second is None)) for g in self.groups]
        if bit > 1 << 16:
            raise ValueError("too many prefilter groups for a 16-bit table")
        self.table = table

    @staticmethod
    def fits(prefilters: list[Prefilter]) -> bool:
        """True when every class is in the Basic Multilingual Plane and the bits fit the table."""
        bits = 3 + sum(2 * len(pf.pairs or ((pf.first, pf.second),)) for pf in prefilters)
        chars = frozenset().union(*(pf.first | (pf.second or frozenset()) for pf in prefilters))
        return bits <= 16 and all(ord(c) < 0xFFFF for c in _unfolded("".join(chars)))

    def classes(self, text: str) -> Any:
        """The class bits of every character of ``text``."""
        return self.classes_of(_utf16_units(text), text)

    def classes_of(self, units: Any, text: str) -> Any:
        """:meth:`classes`, given :func:`_utf16_units` of ``text``."""
        if units is not None:
            return self.table.take(units)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        return self.table.take(np.minimum(codes, 0xFFFF))  # astral: no class

    def runs(self, cls: Any, least: int) -> list[tuple[int, int, int]]:
        """``(start, end, digits)`` of the digit runs (:data:`_RAW_RUN`) with at least ``least``
        digits and masks; separators, folded or not, do not count."""
        first, end, digits = self.run_arrays(cls, least)
        return list(zip(first.tolist(), end.tolist(), digits.tolist(), strict=True))

    def run_arrays(self, cls: Any, least: int) -> tuple[Any, Any, Any]:
        """:meth:`runs` as three integer arrays: starts, ends, digit counts."""
        # numpy's nonzero is several times faster on booleans than on integers
        body = (cls & self._BODY) != 0
        bounds = (body[1:] != body[:-1]).nonzero()[0] + 1  # where stretches of run characters begin or end
        if len(body) and body[0]:
            bounds = np.concatenate(([0], bounds))
        if len(body) and body[-1]:
            bounds = np.concatenate((bounds, [len(body)]))
        begin, end = bounds[0::2], bounds[1::2]
        keep = end - begin >= 10  # a run starts in its stretch: a shorter one holds none
        begin, end = begin[keep], end[keep]
        # A run starts at the first digit of its stretch: mostly the stretch's first character,
        # else a few further on; past a few steps, the digit is looked up among all of them.
        first = begin.copy()
        todo = ((cls.take(first) & self._START) == 0).nonzero()[0]
        for _ in range(4):
            if not len(todo):
                break
            first[todo] += 1
            step = first[todo]
            todo = todo[(step < end[todo]) & ((cls.take(np.minimum(step, len(cls) - 1)) & self._START) == 0)]
        if len(todo):
            starts = ((cls & self._START) != 0).nonzero()[0]
            k = np.searchsorted(starts, first[todo])
            found = k < len(starts)  # else no digit follows: the run is dropped below
            first[todo] = end[todo]
            first[todo[found]] = starts[k[found]]
        keep = end - first >= 10
        first, end = first[keep], end[keep]
        if not len(first):
            return first, end, first
        # Separators (folded or not) in each run: sums over [first, end) of the separator marks.
        seps = np.zeros(len(cls) + 1, np.int32)
        seps[:-1] = (cls & self._SEP) != 0
        edges = np.empty(2 * len(first), np.intp)
        edges[0::2], edges[1::2] = first, end
        digits = (end - first) - np.add.reduceat(seps, edges)[0::2]
        keep = digits >= least
        return first[keep], end[keep], digits[keep]

    def candidates(self, cls: Any, rule: int) -> list[int]:
        """Positions where a match of prefiltered rule number ``rule`` may start."""
        # A group's second-character bit is its first-character bit shifted by one: a pair is
        # there where the shifted bits of one character meet the next one's.
        seconds, single = self._pair_masks[rule]
        ok = None
        if seconds:
            ok = np.zeros(len(cls), bool)
            ok[:-1] = ((cls[:-1] << 1) & cls[1:] & seconds) != 0
        if single:
            ok = (cls & single) != 0 if ok is None else ok | ((cls & single) != 0)
        return ok.nonzero()[0].tolist()  # type: ignore[no-any-return,union-attr]


class Detector:
    """Holds the loaded rules' recognizers; thread-safe and fork-safe (no mutable state but
    caches, whose entries never change).

    The per-character work is one table lookup per character (numpy, :class:`_CharScan`; the
    equivalent ``re`` passes when a class falls outside the BMP or the text is short) over the
    unfolded text, which finds the digit runs every digit-anchored rule needs and the possible
    starts of every other rule (from the classes of its match's first two characters,
    :attr:`RuleRecognizer.prefilter`). Only the small windows around them are folded and handed
    to the rules' patterns: the digit rules search their windows joined into one string (each
    rule a prefix of it), the others match at each candidate. Validators see only what a
    pattern matched; findings, HMACs and context snippets are built only for what the context
    keeps, the snippets of a segment scrubbed together. A rule whose start cannot be described
    that way (``.``, ``[^…]``, ``regex``-only syntax) scans the whole folded text, under a match
    timeout.
    """

    def __init__(self, rules: Iterable[Rule], key: bytes) -> None:
        self.recognizers = [RuleRecognizer(r) for r in rules]
        self.key = key
        self._fingerprint = _Fingerprinter(key)
        self.rules = {r.rule.id: r.rule for r in self.recognizers}
        #: Attach the raw value to each finding (``extra["value"]``): only for ``--show-values``.
        self.include_values = False
        self._by_digits = sorted((r for r in self.recognizers if r.rule.anchor == "digit-run"),
                                 key=lambda r: r.rule.anchor_min_digits)
        self._needs = sorted({r.rule.anchor_min_digits for r in self._by_digits})
        self._scorers = {id(r): _Scorer(r.rule) for r in self.recognizers}
        # Windows are folded only where a character folds into, or is itself, one the patterns
        # name: '：' and '，' are in most windows of Chinese text and matter to no pattern.
        alphabets = [r.alphabet for r in self.recognizers]
        if any(a is None for a in alphabets):
            sources = frozenset(map(chr, _FOLD))
        else:
            named = frozenset().union(*alphabets)  # type: ignore[arg-type]
            sources = frozenset(chr(src) for src, dst in _FOLD.items() if chr(dst) in named or chr(src) in named)
        self._window_needs_fold = re.compile(_char_class(sources)).search if sources else _never
        # Likewise the words before a value: folded only when that could change which context
        # words occur in them ('ＩＣＰ' → 'ICP'; '电　话' is a word as written).
        words = "".join(w for r in self.recognizers for p in r.rule.patterns
                        for w in (*r.rule.context_positive, *r.rule.context_negative, *p.requires_context))
        in_words = frozenset(chr(src) for src, dst in _FOLD.items() if chr(dst) in words or chr(src) in words)
        self._context_needs_fold = re.compile(_char_class(in_words)).search if in_words else _never
        sub = re.compile(_char_class(sources)).sub if sources else None
        self._fold_named = (lambda s: sub(_fold_match, s)) if sub else str  # type: ignore[misc]
        # The same folding as a table over UTF-16 code units (identity elsewhere), for numpy.
        self._named_table = np.arange(0x10000, dtype=np.uint16)
        for c in sources:
            self._named_table[ord(c)] = _FOLD[ord(c)]
        self._prefiltered: list[tuple[RuleRecognizer, re.Pattern[str], int]] = []
        self._full: list[RuleRecognizer] = []
        for rec in self.recognizers:
            if rec.rule.anchor == "digit-run":
                continue
            pf = rec.prefilter
            if pf is None:
                self._full.append(rec)
                continue
            self._prefiltered.append((rec, re.compile(_prefilter_pattern(pf)), pf.max_width))
        prefilters = [rec.prefilter for rec, _, _ in self._prefiltered]
        self._scan = _CharScan(prefilters) if _CharScan.fits(prefilters) else None  # type: ignore[arg-type]

    @property
    def spec(self) -> DetectorSpec:
        """What this detector was built from (for worker processes that build their own)."""
        return DetectorSpec.of((r.rule for r in self.recognizers), self.key, self.include_values)

    def detect(self, segment: Segment, source: str, parent: str | None = None) -> list[Finding]:
        """Return the findings in ``segment`` (of the document ``source``)."""
        return self.detect_many([segment], source, parent)

    def detect_many(self, segments: Sequence[Segment], source: str, parent: str | None = None) -> list[Finding]:
        """Return the findings in ``segments``, in order.

        The segments are matched as one text (joined by newlines, which no pattern crosses), so a
        sheet of 100,000 small cells costs a few regex passes, not 100,000 × rules calls. A
        segment carrying many pieces (:meth:`Segment.part`, e.g. a block of cells) is searched as
        it is; each finding is placed in its piece: location, offsets, context and header.
        """
        if not segments:
            return []
        raw = [s.text for s in segments]
        joined = raw[0] if len(raw) == 1 else "\n".join(raw)
        per_rule = self._hits(joined)
        if not any(per_rule):
            return []
        starts: list[int] = []
        pos = 0
        for t in raw:
            starts.append(pos)
            pos += len(t) + 1
        headers: dict[tuple[int, int], str] = {}
        pieces: dict[tuple[int, int], Segment] = {}
        context_fold = self._context_needs_fold
        per_segment: dict[tuple[int, int], list[_Candidate]] = {}
        single = len(raw) == 1
        for rec, hits in zip(self.recognizers, per_rule, strict=True):
            window = rec.rule.context_window
            scorer = self._scorers[id(rec)]
            for hit_start, hit_end, spec, value, exposure in hits:
                i = 0 if single else bisect_right(starts, hit_start) - 1
                base = starts[i]
                start, end = hit_start - base, hit_end - base
                if end > len(raw[i]):
                    continue  # spans two segments
                # A segment may carry many pieces (a block of cells): offsets, context and the
                # header are the piece's own.
                offset, piece = segments[i].part(start)
                key = (i, offset)
                text = piece.text
                start, end = start - offset, end - offset
                if end > len(text):
                    continue  # spans two pieces
                header = headers.get(key)
                if header is None:
                    header = headers[key] = fold(piece.header)
                    pieces[key] = piece
                if start:
                    line_start = text.rfind("\n", 0, start) + 1
                    before = text[max(line_start, start - window):start]
                    if context_fold(before):
                        before = before.translate(_FOLD_TABLE)
                else:  # a value opening its piece (a cell holding just the value)
                    before = ""
                score = scorer(before, header, spec.requires_context, spec.score, value)
                if score is not None:
                    per_segment.setdefault(key, []).append(_Candidate(rec, start, end, value, exposure, score))
        # Every piece's findings are built in one pass (one scrub of all context snippets):
        # a sheet has tens of thousands of cells holding one finding each.
        groups = []
        for key in sorted(per_segment):
            cands = per_segment[key]
            groups.append((pieces[key], cands if len(cands) == 1 else _resolve_overlaps(cands)))
        return self._findings(groups, source, parent)

    def detect_text(self, text: str, source: str = "<text>", header: str = "") -> list[Finding]:
        """Convenience for tests and rule examples: one segment of plain text."""
        return self.detect(Segment(text, header=header), source)

    # -- matching ------------------------------------------------------------------------------
    def _hits(self, text: str) -> list[list[Hit]]:
        """Every rule's validated hits in ``text`` (offsets into ``text``), in rule order."""
        found: dict[int, list[Hit]] = {}
        # numpy's passes cost a few microseconds each however short the text: short texts go
        # through the equivalent ``re`` passes.
        scan = self._scan if len(text) >= _NUMPY_MIN_CHARS else None
        units = None
        cls = None
        if scan is not None and (self._by_digits or self._prefiltered):
            units = _utf16_units(text)
            cls = scan.classes_of(units, text)
        if self._by_digits:
            least = self._by_digits[0].rule.anchor_min_digits
            if cls is not None:
                run_arrays = scan.run_arrays(cls, least)  # type: ignore[union-attr]
                if len(run_arrays[0]):
                    self._digit_hits(text, self._array_windows(text, run_arrays, units), found)
            else:
                # Unfolded separators (U+3000, '－' …) count as digits here: never fewer than folded.
                runs = [(rs, rend, digits) for rs, rend, run in map(_span_group, _RAW_RUN.finditer(text))
                        if (digits := len(run) - run.count(" ") - run.count("-")) >= least]
                if runs:
                    self._digit_hits(text, self._listed_windows(text, runs), found)
        for k, (rec, prefilter, width) in enumerate(self._prefiltered):
            last_end = -1
            out = found.setdefault(id(rec), [])
            positions = (scan.candidates(cls, k) if scan is not None and cls is not None
                         else [m.start() for m in prefilter.finditer(text)])
            for p in positions:
                if p < last_end:
                    continue  # inside the previous match, as a full-text finditer would skip it
                a = p - _MARGIN if p > _MARGIN else 0
                window = text[a:p + width + _MARGIN]
                if self._window_needs_fold(window):
                    window = window.translate(_FOLD_TABLE)
                r = rec.match_at(window, p - a, a)
                if r is not None:
                    last_end = r[0]
                    if r[1] is not None:
                        out.append(r[1])
        if self._full:
            folded = fold(text)
            for rec in self._full:
                found[id(rec)] = rec.scan(folded, timeout=REGEX_TIMEOUT_SECONDS)
        return [found.get(id(rec), []) for rec in self.recognizers]

    def _digit_hits(self, text: str, windows: _Windows, found: dict[int, list[Hit]]) -> None:
        """Hits of the digit-anchored rules. Every run with enough digits for a rule becomes a
        window (the run, room for a prefix before it, margins); the windows are joined by
        newlines (which no pattern crosses) into one string, folded where a pattern could tell,
        those of the runs that meet the most rules' digit counts first (:class:`_Windows`):
        each rule searches the prefix holding its windows in one pass. Only matches lying in
        their own run's window (not in a margin) are validated, in the order of the windows in
        the text."""
        least = self._by_digits[0].rule.anchor_min_digits
        joined, starts, win_a, win_rs, win_rend, count_for, text_order = windows
        for rec in self._by_digits:
            need = rec.rule.anchor_min_digits
            count = count_for[need]
            if not count:
                continue
            inside = []
            for start, end, pattern in rec.spans(joined, starts[count] - 1):
                i = bisect_right(starts, start) - 1
                shift = win_a[i] - starts[i]
                if start + shift < win_rs[i] - _BEFORE or end + shift > win_rend[i] + _AFTER:
                    continue  # in a margin, where look-arounds do not see the whole context
                inside.append((i, start, end, pattern, shift))
            if text_order is not None and len(inside) > 1:
                inside.sort(key=lambda found: text_order[found[0]])  # type: ignore[index]
            seen: set[tuple[int, int]] = set()
            out = found.setdefault(id(rec), [])
            for i, start, end, pattern, shift in inside:
                if (start + shift, end + shift) in seen:
                    continue  # windows of neighbouring runs overlap
                seen.add((start + shift, end + shift))
                if need > least:  # the exact count, after folding
                    a, rs, rend = win_a[i], win_rs[i], win_rend[i]
                    run = joined[starts[i] + rs - a:starts[i] + rend - a]
                    if len(run) - run.count(" ") - run.count("-") < need:
                        continue
                hit = rec.hit(joined, start, end, pattern, shift)
                if hit is not None:
                    out.append(hit)
            out.sort(key=_hit_start)

    def _array_windows(self, text: str, runs: tuple[Any, Any, Any], units: Any) -> _Windows:
        """:class:`_Windows` of the runs given as start, end and digit-count arrays (numpy);
        ``units``: :func:`_utf16_units` of ``text`` (None: the windows are joined in Python)."""
        needs = self._needs
        run_start, run_end, run_digits = runs
        text_order: list[int] | None = None
        if len(needs) > 1:
            level = np.searchsorted(needs, run_digits, side="right")  # how many rules' counts it meets, 1 or more
            order = np.argsort(-level, kind="stable")
            run_start, run_end, level = run_start[order], run_end[order], level[order]
            count_for = {need: int(np.count_nonzero(level > k)) for k, need in enumerate(needs)}
            text_order = order.tolist()
        else:
            count_for = {needs[0]: len(run_start)}
        win_start = np.maximum(run_start - (_BEFORE + _MARGIN), 0)
        win_end = np.minimum(run_end + _MARGIN, len(text))
        joined, starts = self._join_windows(text, units, win_start, win_end)
        return _Windows(joined, starts, win_start.tolist(), run_start.tolist(), run_end.tolist(), count_for, text_order)

    def _listed_windows(self, text: str, runs: list[tuple[int, int, int]]) -> _Windows:
        """:class:`_Windows` of the runs given as ``(start, end, digits)`` (plain Python: for
        short texts, where numpy's fixed costs outweigh its speed)."""
        needs = self._needs
        text_order: list[int] | None = None
        if len(needs) > 1:
            levels = [bisect_right(needs, digits) for _, _, digits in runs]
            text_order = sorted(range(len(runs)), key=lambda i: -levels[i])  # stable
            runs = [runs[i] for i in text_order]
            count_for = {need: sum(1 for level in levels if level > k) for k, need in enumerate(needs)}
        else:
            count_for = {needs[0]: len(runs)}
        win_a = [rs - (_BEFORE + _MARGIN) if rs > _BEFORE + _MARGIN else 0 for rs, _, _ in runs]
        pieces = [text[a:rend + _MARGIN] for a, (_, rend, _) in zip(win_a, runs, strict=True)]
        joined = self._fold_named("\n".join(pieces))
        starts = list(accumulate([len(piece) + 1 for piece in pieces], initial=0))
        return _Windows(joined, starts, win_a, [r[0] for r in runs], [r[1] for r in runs], count_for, text_order)

    def _join_windows(self, text: str, units: Any, a: Any, e: Any) -> tuple[str, list[int]]:
        """``text[a[i]:e[i]]`` for every window, joined by newlines and folded where a pattern
        could tell (:attr:`_fold_named`), and where each window starts in the result."""
        if not len(a):
            return "", [0]
        blocks = e - a + 1  # each window and its newline
        ends = np.cumsum(blocks)
        starts = ends - blocks
        if units is not None:
            total = int(ends[-1]) - 1  # no newline after the last window
            src = np.arange(total) + np.repeat(a - starts, blocks)[:total]
            newlines = ends[:-1] - 1
            src[newlines] = 0
            picked = units.take(src)
            picked[newlines] = 10
            joined = self._named_table.take(picked).tobytes().decode("utf-16-le", "surrogatepass")
            if len(joined) == total:  # else a lone high and a lone low surrogate met: join as text
                return joined, [*starts.tolist(), int(ends[-1])]
        joined = self._fold_named("\n".join([text[i:j] for i, j in zip(a.tolist(), e.tolist(), strict=True)]))
        return joined, [*starts.tolist(), int(ends[-1])]

    # -- findings ------------------------------------------------------------------------------
    def _findings(self, groups: list[tuple[Segment, list[_Candidate]]], source: str,
                  parent: str | None) -> list[Finding]:
        """The findings of the kept candidates of each piece (in text order, without overlaps)."""
        sign = self._fingerprint
        for _, kept in groups:
            for c in kept:
                c.shown = c.recognizer.display(c.value)
        contexts = _contexts(groups)
        include_values = self.include_values
        out = []
        n = 0
        for segment, kept in groups:
            text = segment.text
            loc = segment.location
            multiline = loc.line is not None and "\n" in text
            line, counted = loc.line, 0  # newlines before ``counted``, added to ``line`` so far
            # One location dict per piece, copied per finding (same keys, same order as to_dict);
            # a bbox list is not shared between findings: those build their own.
            base = loc.to_dict(None, None) if loc.bbox is None else None
            single = len(kept) == 1  # then the piece's dict is the finding's own, uncopied
            for c in kept:  # in text order: count newlines once
                context = contexts[n]
                n += 1
                rule = c.recognizer.rule
                start, end = c.start, c.end
                if multiline:
                    line += text.count("\n", counted, start)  # type: ignore[operator]
                    counted = start
                    nl = text.rfind("\n", 0, start) + 1
                    start, end = start - nl, end - nl
                if base is not None:
                    location = base if single else base.copy()
                    location["start"] = start
                    location["end"] = end
                else:
                    location = loc.to_dict(start, end)
                location["line"] = line
                exposure = c.exposure
                finding = Finding(rule.entity, rule.id, source, parent, location, c.shown, sign(c.value),
                                  exposure,  # type: ignore[arg-type]
                                  rule.severity if exposure == "unmasked" else rule.partial_severity,  # type: ignore[arg-type]
                                  c.score, context, rule.remediation)
                if include_values:
                    finding.extra["value"] = c.value
                out.append(finding)
        return out


class _Scorer:
    """A rule's context scoring (:meth:`__call__`), with its word finders and flags made once."""

    __slots__ = ("_check_bonus", "_find_negative", "_find_positive", "_headers", "_lookalike", "_negative",
                 "_positive")

    #: Column headers whose verdicts are remembered (a sheet has a few, repeated per row).
    _HEADERS_KEPT = 1024

    def __init__(self, rule: Rule) -> None:
        self._positive = rule.context_positive
        self._negative = rule.context_negative
        self._headers: dict[str, tuple[bool, bool]] = {}
        self._find_positive = _nearest_finder(rule.context_positive)
        self._find_negative = _nearest_finder(rule.context_negative)
        self._lookalike = rule.validator.lookalike
        self._check_bonus = rule.validator.name == "cn_id_card_18"

    def __call__(self, before: str, header: str, requires: tuple[str, ...], score: float, value: str) -> float | None:
        """The candidate's confidence given the (folded) words before it on its line and its
        column header, or None when the context rules it out."""
        # Labels stand on the value's own line; a line above is a header row, which may name
        # other columns ("开户账号") and must not outvote the value's own column.
        # The nearest word is the leftmost match in the reversed text: one search per kind.
        pos = neg = None
        if before:
            backwards = before[::-1]
            if self._find_positive is not None:
                m = self._find_positive(backwards)
                if m is not None:
                    pos = m.start()
            if self._find_negative is not None:
                m = self._find_negative(backwards)
                if m is not None:
                    neg = m.start()
        if header:
            verdict = self._headers.get(header)
            if verdict is None:
                if len(self._headers) >= self._HEADERS_KEPT:
                    self._headers.clear()
                verdict = self._headers[header] = (any(w in header for w in self._positive),
                                                   any(w in header for w in self._negative))
            head_pos, head_neg = verdict
        else:
            head_pos = head_neg = False
        if requires and not any(w in before or w in header for w in requires):
            return None
        # The nearer word wins; a column header counts as the farthest context.
        if neg is not None and (pos is None or neg <= pos):  # a tie: the longer word ("凭证号" over "证号")
            return None
        if pos is None and head_neg and not head_pos:
            return None
        # A look-alike (an ID that also passes the credit-code check, as ~1 in 31 real IDs do) is
        # dropped only when something around it speaks of the other kind of number.
        unmasked = "*" not in value
        if (neg is not None or head_neg) and unmasked and self._lookalike(value):
            return None
        if unmasked and self._check_bonus:
            score += 0.35  # the check character held
        if pos is not None or head_pos:
            score += 0.25
        return min(score, 1.0)


def _nearest_finder(words: tuple[str, ...]) -> Any:
    """The ``search`` of a pattern finding any of ``words`` in a reversed text, longer words
    first (None without words): its leftmost match is the nearest word to the text's end."""
    if not words:
        return None
    return re.compile("|".join(re.escape(w[::-1]) for w in sorted(words, key=len, reverse=True))).search


def _resolve_overlaps(cands: list[_Candidate]) -> list[_Candidate]:
    """Keep non-overlapping candidates, preferring higher rule priority, then the longer span."""
    by_start = sorted(cands, key=lambda c: c.start)
    if all(a.end <= b.start for a, b in zip(by_start, by_start[1:], strict=False)):
        return by_start  # nothing overlaps (the usual case)
    order = sorted(cands, key=lambda c: (-c.recognizer.rule.priority, -(c.end - c.start), c.start))
    kept: list[_Candidate] = []
    for c in order:
        if all(c.end <= k.start or c.start >= k.end for k in kept):
            kept.append(c)
    kept.sort(key=lambda c: c.start)
    return kept


def _contexts(groups: list[tuple[Segment, list[_Candidate]]]) -> list[str]:
    """For each value of each group's ``kept`` (in text order, without overlaps), a snippet of
    the group's text around it with every value in it shown as reports show it, and stray long
    numbers and stand-alone names masked: reports never carry raw personal data.

    The stretches between values of every snippet (of all groups) are folded and scrubbed as one
    string, joined by newlines (which no scrub pattern crosses or needs; scrubbing keeps lengths),
    then cut apart again: per value that costs a few slices instead of a fold and three regex calls."""
    gaps: list[str] = []
    # per snippet: its window, the index range of the values shown in it, its group's values
    # and whether the window ends before the text does
    plan: list[tuple[int, int, int, list[_Candidate], bool]] = []
    for segment, kept in groups:
        text = segment.text
        n = len(text)
        count = len(kept)
        for j, c in enumerate(kept):
            start, end = c.start, c.end
            a = start - CONTEXT_RADIUS if start > CONTEXT_RADIUS else 0
            b = end + CONTEXT_RADIUS if end + CONTEXT_RADIUS < n else n
            if (j == 0 or kept[j - 1].end <= a) and (j + 1 == count or kept[j + 1].start >= b):
                gaps.append(text[a:start])  # the usual case: no other value within reach
                gaps.append(text[end:b])
                plan.append((a, j, j + 1, kept, b < n))
                continue
            first = j
            while first > 0 and kept[first - 1].end > a:
                first -= 1
            pos = a
            last = first
            for i in range(first, count):
                k = kept[i]
                if k.start >= b:
                    break
                gaps.append(text[pos:max(pos, k.start)])
                pos = max(pos, k.end)
                last = i + 1
            gaps.append(text[pos:b])
            plan.append((a, first, last, kept, b < n))
    # Each distinct stretch once (a sheet's cells repeat theirs: empty, or the same words).
    distinct = list(dict.fromkeys(gaps))
    scrubbed = _scrub(_fold_batch("\n".join(distinct))).replace("\n", " ").replace("\t", " ")
    clean: dict[str, str] = {}
    cut = 0  # where the next stretch starts in ``scrubbed``
    for gap in distinct:
        stop = cut + len(gap)
        clean[gap] = scrubbed[cut:stop]
        cut = stop + 1
    out: list[str] = []
    g = 0  # the next stretch's index in ``gaps``
    for a, first, last, kept, cut_end in plan:
        if last - first == 1:
            shown = kept[first].shown
            if "\n" in shown or "\t" in shown:
                shown = shown.replace("\n", " ").replace("\t", " ")
            snippet = (clean[gaps[g]] + shown + clean[gaps[g + 1]]).strip()
            g += 2
        else:
            parts: list[str] = []
            for i in range(first, last):
                parts.append(clean[gaps[g]])
                parts.append(kept[i].shown.replace("\n", " ").replace("\t", " "))
                g += 1
            parts.append(clean[gaps[g]])
            g += 1
            snippet = "".join(parts).strip()
        if a > 0:
            snippet = "…" + snippet
        out.append(snippet + "…" if cut_end else snippet)
    return out


#: Below this length a text's prefilter passes run as ``re`` searches rather than in numpy.
_NUMPY_MIN_CHARS = 7000

#: Below this length a string is folded by ``str.translate``; above it, by one table lookup per
#: UTF-16 code unit in numpy (about 3× faster on a batch of snippets, slower on a short string).
_NUMPY_FOLD_MIN = 256
_FOLD_ARRAY = np.array(_FOLD_TABLE, np.uint16)
#: :func:`_fold_batch` replaces up to this many characters one by one.
_SUB_FOLD_MAX = 64
_sub_fold = _NEEDS_FOLD_RE.subn


def _fold_batch(s: str) -> str:
    """:func:`fold`, faster on long strings."""
    # Context text has few characters to fold: replacing just those is fastest, up to a count
    # past which a table lookup per character wins (then the partial result is thrown away).
    out, count = _sub_fold(_fold_match, s, _SUB_FOLD_MAX)
    if count < _SUB_FOLD_MAX:
        return out
    if len(s) < _NUMPY_FOLD_MIN:
        return fold(s)
    data = s.encode("utf-16-le", "surrogatepass")
    if len(data) != 2 * len(s):
        return fold(s)  # astral characters: their surrogates would be looked up one by one
    out = _FOLD_ARRAY.take(np.frombuffer(data, np.uint16)).tobytes().decode("utf-16-le", "surrogatepass")
    # A lone high surrogate followed by a lone low one would come back as one character.
    return out if len(out) == len(s) else fold(s)


# Words that start with a surname character but are labels, not names.
_NOT_NAMES = frozenset(
    "车牌 车主 车号 车辆 车型 车架 号牌 电话 手机 姓名 性别 住址 金额 "  # noqa: SIM905 (reads best as words)
    "经查 当事人 联系人 联系 身份证 证件 备注 单位 时间 日期 年龄 民族 "
    "籍贯 学历 职务 职位 原因 说明 地址 邮编 项目 编号 序号 合计 总计 "
    "其中 为了 关于 根据 依据 现予 特此 公示 公告 通知 决定 情况 方式 "
    "号码 成绩 考试 培训 驾驶 运输 交通 公安 管理 服务 工作 部门 市场 "
    "安全 应急 卫生 教育".split()
)


@cache
def _scrubbers() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """_LONG_NUMBER, _LABELLED_NAME and _NAME for the standard library (5–10× faster on snippets):
    ``\\p{Han}`` spelled out as the ranges ``regex`` gives it, the look-behind moved after the
    surname so that the search can skip to surname characters."""
    s = "".join(map(chr, range(0x40000)))  # the BMP and the planes of the CJK extensions
    han = "".join(re.escape(chr(m.start())) + ("-" + re.escape(chr(m.end() - 1)) if m.end() - m.start() > 1 else "")
                  for m in regex.finditer(r"\p{Han}+", s))
    name = re.compile(rf"([{_SURNAMES}])(?<![{han}].)([{han}]{{1,2}})(?![{han}])")
    labelled = re.compile(_LABELLED_NAME.pattern.replace(r"\p{Han}", f"[{han}]"))
    # _scrub sees folded text only: no full-width digits or asterisks are left to look for.
    return re.compile(r"[0-9][0-9Xx*]{3,}[0-9Xx]"), labelled, name


_HAS_DIGIT = re.compile("[0-9０-９]").search
_HAS_LABEL = re.compile(_NAME_LABELS).search


def _scrub(s: str) -> str:
    """Mask stray long numbers and stand-alone names in folded text (lengths unchanged)."""
    long_number, labelled, name = _scrubbers()
    if _HAS_DIGIT(s):
        s = long_number.sub(_stars, s)
    if _HAS_LABEL(s):
        s = labelled.sub(_mask_labelled, s)
    return name.sub(_mask_name, s)


def _stars(m: re.Match[str]) -> str:
    return "*" * len(m.group())


def _mask_labelled(m: re.Match[str]) -> str:
    label, surname, name = m.groups()
    return label + surname + "*" * len(name)


def _mask_name(m: re.Match[str]) -> str:
    name = m.group()  # the surname and one or two characters
    return name if name in _NOT_NAMES else name[0] + "*" * (len(name) - 1)
