"""Detection: text segments → findings, through the rule recognizers.

Per segment: fold full-width characters (offsets unchanged), run every recognizer, weigh the
context (words before the value within the rule's window, and the table column header), drop
what the context rules out, resolve overlaps by rule priority, and build findings that carry only
masked values, keyed fingerprints and a masked context snippet.
"""

from __future__ import annotations

import hashlib
import hmac
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import regex

from scanner.detect.recognizer import EXPOSURE, NORMALIZED, REQUIRES, RuleRecognizer
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


# Runs that a digit-anchored rule's match must lie in (after folding); windows reach a little
# further for prefixes (+86, 0086-) and for the look-ahead after the value (".00" of amounts).
_DIGIT_RUN = regex.compile(r"[0-9*xX×][0-9*xX× \-]{9,}")
_BEFORE, _AFTER = 8, 4


def _digit_windows(text: str) -> list[tuple[int, int, int]]:
    """(start, end, digits-and-masks count) of every run a digit-anchored match could lie in."""
    n = len(text)
    return [
        (max(0, m.start() - _BEFORE), min(n, m.end() + _AFTER), len(m.group()) - m.group().count(" ") - m.group().count("-"))
        for m in _DIGIT_RUN.finditer(text)
    ]


def fold(text: str) -> str:
    """Fold full-width digits/letters and odd spaces to ASCII, one character for one."""
    return text.translate(_FOLD) if _NEEDS_FOLD.search(text) else text


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
    """Holds the loaded rules' recognizers; thread-safe and fork-safe (no mutable state)."""

    def __init__(self, rules: Iterable[Rule], key: bytes) -> None:
        self.recognizers = [RuleRecognizer(r) for r in rules]
        self.key = key
        self.rules = {r.rule.id: r.rule for r in self.recognizers}
        self._anchored = any(r.anchor == "digit-run" for r in self.rules.values())
        #: Attach the raw value to each finding (``extra["value"]``): only for ``--show-values``.
        self.include_values = False

    def detect(self, segment: Segment, source: str, parent: str | None = None) -> list[Finding]:
        """Return the findings in ``segment`` (of the document ``source``)."""
        return self.detect_many([segment], source, parent)

    def detect_many(self, segments: Sequence[Segment], source: str, parent: str | None = None) -> list[Finding]:
        """Return the findings in ``segments``, in order.

        The segments are matched as one text (joined by newlines, which no pattern crosses), so a
        sheet of 100,000 small cells costs a few regex passes, not 100,000 × rules calls.
        """
        texts = [fold(s.text) for s in segments]
        joined = "\n".join(texts)
        starts: list[int] = []
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        per_segment: dict[int, list[_Candidate]] = {}
        windows = _digit_windows(joined) if self._anchored else None
        for rec in self.recognizers:
            rule_windows = None
            if windows is not None and rec.rule.anchor == "digit-run":
                rule_windows = [(a, b) for a, b, digits in windows if digits >= rec.rule.anchor_min_digits]
            for res in rec.analyze(joined, windows=rule_windows):
                i = bisect_right(starts, res.start) - 1
                base = starts[i]
                text = texts[i]
                start, end = res.start - base, res.end - base
                if end > len(text):
                    continue  # spans two segments
                meta = res.recognition_metadata
                score = self._context_score(rec.rule, text, start, fold(segments[i].header), meta[REQUIRES],
                                            res.score, meta[NORMALIZED])
                if score is not None:
                    per_segment.setdefault(i, []).append(
                        _Candidate(rec, start, end, meta[NORMALIZED], meta[EXPOSURE], score))
        findings: list[Finding] = []
        for i in sorted(per_segment):
            kept = _resolve_overlaps(per_segment[i])
            findings.extend(self._finding(c, kept, segments[i], texts[i], source, parent) for c in kept)
        return findings

    def detect_text(self, text: str, source: str = "<text>", header: str = "") -> list[Finding]:
        """Convenience for tests and rule examples: one segment of plain text."""
        return self.detect(Segment(text, header=header), source)

    # -- context -------------------------------------------------------------------------------
    def _context_score(self, rule: Rule, text: str, start: int, header: str, requires: tuple[str, ...],
                       score: float, value: str) -> float | None:
        # Labels stand on the value's own line; a line above is a header row, which may name
        # other columns ("开户账号") and must not outvote the value's own column.
        line_start = text.rfind("\n", 0, start) + 1
        before = text[max(line_start, start - rule.context_window):start]
        pos = _nearest(before, rule.context_positive)
        neg = _nearest(before, rule.context_negative)
        head_pos = any(w in header for w in rule.context_positive)
        head_neg = any(w in header for w in rule.context_negative)
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

    # -- findings ------------------------------------------------------------------------------
    def _finding(self, c: _Candidate, kept: list[_Candidate], segment: Segment, text: str,
                 source: str, parent: str | None) -> Finding:
        rule = c.recognizer.rule
        loc = segment.location
        start, end = c.start, c.end
        line = loc.line
        if line is not None and "\n" in text:
            nl = text.rfind("\n", 0, start)
            line += text.count("\n", 0, start)
            start, end = start - (nl + 1), end - (nl + 1)
        location = loc.to_dict(start, end)
        location["line"] = line
        masked = c.recognizer.display(c.value)
        finding = Finding(
            entity=rule.entity,
            rule=rule.id,
            source=source,
            parent=parent,
            location=location,
            masked=masked,
            fingerprint=fingerprint(self.key, c.value),
            exposure=c.exposure,  # type: ignore[arg-type]
            severity=rule.severity if c.exposure == "unmasked" else rule.partial_severity,  # type: ignore[arg-type]
            confidence=c.score,
            context=_context(text, c, kept),
            remediation=rule.remediation,
        )
        if self.include_values:
            finding.extra["value"] = c.value
        return finding


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
        parts.append(_scrub(text[pos:max(pos, k.start)]))
        parts.append(k.recognizer.display(k.value))
        pos = max(pos, k.end)
    parts.append(_scrub(text[pos:b]))
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
