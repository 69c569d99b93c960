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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import regex

from scanner.detect.recognizer import REGEX_TIMEOUT_SECONDS, Hit, RuleRecognizer
from scanner.detect.rules import Rule
from scanner.model import Finding, Segment

# Full-width ASCII (U+FF01–FF5E) → ASCII, ideographic space and no-break space → space, so that
# patterns only deal with ASCII digits. One character for one: offsets stay valid.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20, 0x00A0: 0x20, 0x2014: 0x2D, 0x2013: 0x2D, 0x2212: 0x2D, 0xFF0A: 0x2A})
# Masking symbols people use instead of '*'.
_MASK_SYMBOLS = "●○■□★☆◆◇"
_FOLD.update({ord(c): 0x2A for c in _MASK_SYMBOLS})
_NEEDS_FOLD = regex.compile(rf"[\uff01-\uff5e\u3000\u00a0\u2013\u2014\u2212{_MASK_SYMBOLS}]")

CONTEXT_RADIUS = 18
_LONG_NUMBER = regex.compile(r"[0-9０-９][0-9０-９Xx*＊]{3,}[0-9０-９Xx]")
# A 2–3 character name after a common surname, standing alone: masked in context snippets.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池乐"
)
_NAME = regex.compile(rf"(?<![\p{{Han}}])([{_SURNAMES}])([\p{{Han}}]{{1,2}})(?![\p{{Han}}])")
# A name right after a label, even with no space before the next word ("联系人李四电话…").
_LABELLED_NAME = regex.compile(
    rf"((?:姓名|联系人|当事人|申请人|车主|户主|代理人|法定代表人|经营者|驾驶员|持证人|业户|证人)[:： ]*)"
    rf"([{_SURNAMES}])(\p{{Han}}{{1,2}})"
)


# Every match of a digit-anchored rule lies in a run of digits, masks and separators; the run is
# found in the unfolded text by classes that also hold every character folding into them.
_RUN_START = "0123456789"
_RUN_BODY = "0123456789*xX× -"
_BEFORE = 8  # a match may start this far before its run (+86, 0086-, （+86）)
# Windows are folded and searched as slices this much wider on each side, so that look-behinds
# and look-aheads see the text around them.
_MARGIN = 16


def _unfolded(chars: str) -> frozenset[str]:
    """``chars`` plus every character :func:`fold` turns into one of them."""
    return frozenset(chars) | {chr(src) for src, dst in _FOLD.items() if chr(dst) in chars}


def _char_class(chars: frozenset[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


_RAW_RUN = re.compile(f"{_char_class(_unfolded(_RUN_START))}{_char_class(_unfolded(_RUN_BODY))}{{9,}}")
_NEEDS_FOLD_RE = re.compile(_NEEDS_FOLD.pattern)


def fold(text: str) -> str:
    """Fold full-width digits/letters and odd spaces to ASCII, one character for one."""
    return text.translate(_FOLD) if _NEEDS_FOLD_RE.search(text) else text


def fingerprint(key: bytes, value: str) -> str:
    """HMAC-SHA256 of the normalized value under the run's key (report contract)."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(slots=True)
class _Candidate:
    recognizer: RuleRecognizer
    start: int
    end: int
    value: str
    exposure: str
    score: float


class Detector:
    """Holds the loaded rules' recognizers; thread-safe and fork-safe (no mutable state).

    The per-character work is a few compiled passes of the standard library's ``re`` over the
    unfolded text: one for the digit runs every digit-anchored rule needs, and one per other rule
    built from the classes of its match's first two characters (:attr:`RuleRecognizer.prefilter`).
    Only the small windows these passes find are folded and handed to the rules' patterns and
    validators; a rule whose start cannot be described that way scans the whole (folded) text.
    """

    def __init__(self, rules: Iterable[Rule], key: bytes) -> None:
        self.recognizers = [RuleRecognizer(r) for r in rules]
        self.key = key
        self.rules = {r.rule.id: r.rule for r in self.recognizers}
        self._by_digits = sorted((r for r in self.recognizers if r.rule.anchor == "digit-run"),
                                 key=lambda r: r.rule.anchor_min_digits)
        self._prefiltered: list[tuple[RuleRecognizer, re.Pattern[str], int]] = []
        self._full: list[RuleRecognizer] = []
        for rec in self.recognizers:
            if rec.rule.anchor == "digit-run":
                continue
            pf = rec.prefilter
            if pf is None:
                self._full.append(rec)
                continue
            head = _char_class(_unfolded("".join(pf.first)))
            tail = f"(?={_char_class(_unfolded(''.join(pf.second)))})" if pf.second else ""
            self._prefiltered.append((rec, re.compile(head + tail), pf.max_width))

    def detect(self, segment: Segment, source: str, parent: str | None = None) -> list[Finding]:
        """Return the findings in ``segment`` (of the document ``source``)."""
        return self.detect_many([segment], source, parent)

    def detect_many(self, segments: Sequence[Segment], source: str, parent: str | None = None) -> list[Finding]:
        """Return the findings in ``segments``, in order.

        The segments are matched as one text (joined by newlines, which no pattern crosses), so a
        sheet of 100,000 small cells costs a few regex passes, not 100,000 × rules calls.
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
        headers: dict[int, str] = {}
        per_segment: dict[int, list[_Candidate]] = {}
        for rec, hits in zip(self.recognizers, per_rule):
            rule = rec.rule
            for hit in hits:
                i = bisect_right(starts, hit.start) - 1 if len(raw) > 1 else 0
                base = starts[i]
                text = raw[i]
                start, end = hit.start - base, hit.end - base
                if end > len(text):
                    continue  # spans two segments
                header = headers.get(i)
                if header is None:
                    header = headers[i] = fold(segments[i].header)
                line_start = text.rfind("\n", 0, start) + 1
                before = fold(text[max(line_start, start - rule.context_window):start])
                score = _context_score(rule, before, header, hit.spec.requires_context, hit.spec.score, hit.value)
                if score is not None:
                    per_segment.setdefault(i, []).append(_Candidate(rec, start, end, hit.value, hit.exposure, score))
        findings: list[Finding] = []
        for i in sorted(per_segment):
            kept = _resolve_overlaps(per_segment[i])
            findings.extend(self._findings(kept, segments[i], source, parent))
        return findings

    def detect_text(self, text: str, source: str = "<text>", header: str = "") -> list[Finding]:
        """Convenience for tests and rule examples: one segment of plain text."""
        return self.detect(Segment(text, header=header), source)

    # -- matching ------------------------------------------------------------------------------
    def _hits(self, text: str) -> list[list[Hit]]:
        """Every rule's validated hits in ``text`` (offsets into ``text``), in rule order."""
        n = len(text)
        found: dict[int, list[Hit]] = {}
        if self._by_digits:
            seen: set[tuple[int, int, int]] = set()
            for m in _RAW_RUN.finditer(text):
                rs, rend = m.span()
                a, b = max(0, rs - _MARGIN), min(n, rend + _MARGIN)
                window = fold(text[a:b])
                run = window[rs - a:rend - a]
                digits = len(run) - run.count(" ") - run.count("-")
                for rec in self._by_digits:
                    if rec.rule.anchor_min_digits > digits:
                        break
                    for h in rec.scan(window, max(rs - _BEFORE, 0) - a):
                        key = (id(rec), h.start + a, h.end + a)
                        if key not in seen:
                            seen.add(key)
                            found.setdefault(id(rec), []).append(h._replace(start=h.start + a, end=h.end + a))
        for rec, prefilter, width in self._prefiltered:
            last_end = -1
            for m in prefilter.finditer(text):
                p = m.start()
                if p < last_end:
                    continue  # inside the previous match, as a full-text finditer would skip it
                a, b = max(0, p - _MARGIN), min(n, p + width + _MARGIN)
                r = rec.match_at(fold(text[a:b]), p - a)
                if r is None:
                    continue
                last_end = r[0] + a
                if r[1] is not None:
                    h = r[1]
                    found.setdefault(id(rec), []).append(h._replace(start=h.start + a, end=h.end + a))
        if self._full:
            folded = fold(text)
            for rec in self._full:
                found[id(rec)] = rec.scan(folded, timeout=REGEX_TIMEOUT_SECONDS)
        return [found.get(id(rec), []) for rec in self.recognizers]

    # -- findings ------------------------------------------------------------------------------
    def _findings(self, kept: list[_Candidate], segment: Segment, source: str,
                  parent: str | None) -> Iterator[Finding]:
        text = segment.text
        loc = segment.location
        multiline = loc.line is not None and "\n" in text
        line, counted = loc.line, 0  # newlines before ``counted``, added to ``line`` so far
        for c in kept:  # in text order: count newlines once, not from the top for every finding
            rule = c.recognizer.rule
            start, end = c.start, c.end
            if multiline:
                line += text.count("\n", counted, start)  # type: ignore[operator]
                counted = start
                nl = text.rfind("\n", 0, start)
                start, end = start - (nl + 1), end - (nl + 1)
            location = loc.to_dict(start, end)
            location["line"] = line
            yield Finding(
                entity=rule.entity,
                rule=rule.id,
                source=source,
                parent=parent,
                location=location,
                masked=c.recognizer.display(c.value),
                fingerprint=fingerprint(self.key, c.value),
                exposure=c.exposure,  # type: ignore[arg-type]
                severity=rule.severity if c.exposure == "unmasked" else rule.partial_severity,  # type: ignore[arg-type]
                confidence=c.score,
                context=_context(text, c, kept),
                remediation=rule.remediation,
            )


def _context_score(rule: Rule, before: str, header: str, requires: tuple[str, ...], score: float,
                   value: str) -> float | None:
    """The candidate's confidence given the (folded) words before it on its line and its column
    header, or None when the context rules it out."""
    # Labels stand on the value's own line; a line above is a header row, which may name
    # other columns ("开户账号") and must not outvote the value's own column.
    pos = _nearest(before, rule.context_positive)
    neg = _nearest(before, rule.context_negative)
    head_pos = any(w in header for w in rule.context_positive) if header else False
    head_neg = any(w in header for w in rule.context_negative) if header else False
    if requires and not any(w in before or w in header for w in requires):
        return None
    # The nearer word wins; a column header counts as the farthest context.
    if neg is not None and (pos is None or neg <= pos):  # a tie: the longer word ("凭证号" over "证号")
        return None
    if pos is None and head_neg and not head_pos:
        return None
    has_context = pos is not None or head_pos
    # A look-alike (an ID that also passes the credit-code check, as ~1 in 31 real IDs do) is
    # dropped only when something around it speaks of the other kind of number.
    if (neg is not None or head_neg) and "*" not in value and rule.validator.lookalike(value):
        return None
    if "*" not in value and rule.validator.name == "cn_id_card_18":
        score += 0.35  # the check character held
    if has_context:
        score += 0.25
    return min(score, 1.0)


def _nearest(before: str, words: tuple[str, ...]) -> int | None:
    """Distance from the end of ``before`` to the end of the nearest occurrence of any word."""
    best: int | None = None
    for w in words:
        i = before.rfind(w)
        if i >= 0:
            d = len(before) - (i + len(w))
            if best is None or d < best:
                best = d
    return best


def _resolve_overlaps(cands: list[_Candidate]) -> list[_Candidate]:
    """Keep non-overlapping candidates, preferring higher rule priority, then the longer span."""
    order = sorted(cands, key=lambda c: (-c.recognizer.rule.priority, -(c.end - c.start), c.start))
    kept: list[_Candidate] = []
    for c in order:
        if all(c.end <= k.start or c.start >= k.end for k in kept):
            kept.append(c)
    kept.sort(key=lambda c: c.start)
    return kept


def _context(text: str, c: _Candidate, kept: list[_Candidate]) -> str:
    """A snippet around the value with every value in it masked, and stray long numbers and
    stand-alone names masked too: reports never carry raw personal data."""
    a = max(0, c.start - CONTEXT_RADIUS)
    b = min(len(text), c.end + CONTEXT_RADIUS)
    parts: list[str] = []
    pos = a
    for k in kept:
        if k.end <= a or k.start >= b:
            continue
        parts.append(_scrub(fold(text[pos:max(pos, k.start)])))
        parts.append(k.recognizer.display(k.value))
        pos = max(pos, k.end)
    parts.append(_scrub(fold(text[pos:b])))
    snippet = "".join(parts).replace("\n", " ").replace("\t", " ").strip()
    return ("…" if a > 0 else "") + snippet + ("…" if b < len(text) else "")


# Words that start with a surname character but are labels, not names.
_NOT_NAMES = frozenset(
    "车牌 车主 车号 车辆 车型 车架 号牌 电话 手机 姓名 性别 住址 金额 经查 当事人 联系人 联系 身份证 证件 备注 单位 时间 日期 "
    "年龄 民族 籍贯 学历 职务 职位 原因 说明 地址 邮编 项目 编号 序号 合计 总计 其中 为了 关于 根据 依据 现予 特此 公示 公告 "
    "通知 决定 情况 方式 号码 成绩 考试 培训 驾驶 运输 交通 公安 管理 服务 工作 部门 市场 安全 应急 卫生 教育".split()
)


def _scrub(s: str) -> str:
    s = _LONG_NUMBER.sub(lambda m: "*" * len(m.group()), s)
    s = _LABELLED_NAME.sub(lambda m: m.group(1) + m.group(2) + "*" * len(m.group(3)), s)
    return _NAME.sub(lambda m: m.group() if m.group() in _NOT_NAMES else m.group(1) + "*" * len(m.group(2)), s)
