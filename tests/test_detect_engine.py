"""The detection engine's fast paths give exactly what the straightforward way gives.

The straightforward way: fold the whole text, run every rule's alternation over all of it with
``regex``, validate every match. The engine instead finds candidate windows (digit runs, first-two-
character prefilters derived from the patterns) with numpy table lookups or ``re``, folds and
searches only those, and builds findings with precomputed HMAC states.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import importlib.util
import random
import re
import sys
from pathlib import Path

import pytest
from stdnum.iso7064 import mod_11_2

from scanner.detect import engine, validators
from scanner.detect.engine import _RAW_RUN, Detector, _Fingerprinter, _span_group, fingerprint, fold
from scanner.detect.recognizer import RuleRecognizer, _derive_prefilter
from scanner.detect.rules import load_rules, parse_rule
from scanner.detect.validators import id_check_char
from scanner.model import Location, Segment

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_detect", ROOT / "bench" / "detect.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_detect"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench()


# Hand-made stretches that exercise folding, separators, masks, prefixes, margins and neighbours.
_TRICKY = [
    "联系人张三，电话（+86）13812345678，身份证号３４０８２３１９９００１０１１２３６。",
    "手机 +86 138 1234 5678；证件号码 110105\u300019491231\u3000002X；车牌 皖Ａ·１２３４５",
    "44018320233579\n2\n韦春然\n女\n＊＊＊＊＊＊＊＊＊＊＊＊＊＊3383\n3\n",
    "身份证号 4601011985●●●●9419，手机 138－1234－5678，残疾人证号 11010519491231011842",
    "订单号 110105194912310021234 银行卡 6222021949123100218 金额 13812345678.00元",
    "粤B•D12345 京A.12345 苏E-2345学 冀B1234挂 使123456 车辆号牌 沪A 6B789 新1号线",
    "𠀀𠀁 13912345678 𠀂 340823199001011236 𠀃 皖A12345",
    "13812345678 13912345678 13712345678",
    "1" * 40 + " 340823199001011236" + "2" * 3,
    "1\n4201061956＊＊＊＊＊＊53\n粤A979G9\n44018320233579\n2\n＊＊＊＊＊＊＊＊＊＊＊＊＊＊3383\n粤A•D08848\n44018320239823",
]


def _reference(detector: Detector, text: str) -> set[tuple[str, int, int, str, str]]:
    """Every rule's validated hits the straightforward way (whole text folded, full scans)."""
    folded = fold(text)
    found = set()
    for rec in detector.recognizers:
        for res in rec.analyze(folded):
            meta = res.recognition_metadata
            found.add((rec.rule.id, res.start, res.end, meta["leakscan_value"], meta["leakscan_exposure"]))
    return found


def _engine(detector: Detector, text: str) -> set[tuple[str, int, int, str, str]]:
    return {(rec.rule.id, h.start, h.end, h.value, h.exposure)
            for rec, hits in zip(detector.recognizers, detector._hits(text), strict=True) for h in hits}


def test_engine_hits_equal_straightforward_scan(detector, bench):
    texts = [*_TRICKY, bench.make_text(0.2, seed=3)]
    texts.append("\n".join(_TRICKY))
    for text in texts:
        assert _engine(detector, text) == _reference(detector, text)


def test_engine_without_numpy_path_is_the_same(rules, bench):
    fast = Detector(rules, b"k")
    plain = Detector(rules, b"k")
    plain._scan = None  # the re passes
    text = bench.make_text(0.1, seed=5) + "\n".join(_TRICKY)
    assert _engine(fast, text) == _engine(plain, text) == _reference(fast, text)


def test_numpy_and_re_passes_agree_whatever_the_length(detector, bench, monkeypatch):
    # Short texts take the re passes, long ones numpy: each path on the other's texts too.
    short = [*_TRICKY, "\n".join(_TRICKY)]
    long = [bench.make_text(0.05, seed=4) + "\n".join(_TRICKY)]
    monkeypatch.setattr(engine, "_NUMPY_MIN_CHARS", 0)
    for text in short:
        assert _engine(detector, text) == _reference(detector, text)
    monkeypatch.setattr(engine, "_NUMPY_MIN_CHARS", 10**9)
    for text in long:
        assert _engine(detector, text) == _reference(detector, text)


def test_digit_rules_with_several_counts_and_overlapping_windows(rules, monkeypatch):
    # A digit rule matching short values: windows of neighbouring runs overlap and hold each
    # other's values; every value is still found once, in its own window, on both paths.
    data = {
        "id": "case-number", "entity": "CASE_NO", "severity": "low", "validator": "cn_mobile",
        "params": {"segments": ["135", "138"]}, "anchor": "digit-run", "anchor_min_digits": 12,
        "patterns": [{"name": "p", "regex": r"(?<![0-9])(?P<value>1[3-9][0-9]{9})(?=[0-9]?(?![0-9]))"}],
        "masking": {"region": [4, 7]}, "remediation": "x",
        "examples": {"positive": [{"text": "x 138123456789", "match": "13812345678"}], "negative": ["x"]},
    }
    detector = Detector([*rules, parse_rule(data, "case.yaml")], b"k")
    text = "号 138123456781 13512345678 1 13812345678912 附 138 1234 5678 13912345678901\n" * 3
    for limit in (0, 10**9):
        monkeypatch.setattr(engine, "_NUMPY_MIN_CHARS", limit)
        found = _engine(detector, text)
        assert found == _reference(detector, text)
        assert sum(1 for hit in found if hit[0] == "case-number") == 6


def test_snippets_equal_scrubbing_each_stretch_alone(detector, bench):
    # The stretches around all values of a segment are folded and scrubbed as one string: the
    # same as scrubbing each stretch on its own.
    text = bench.make_text(0.1, seed=6) + "\n".join(_TRICKY) + "联系人李四电话13812345678，王五13912345678张三"
    found = detector.detect_many([Segment(text)], "x")
    assert len(found) > 30
    for f in found:
        start, end = f.location["start"], f.location["end"]
        a, b = max(0, start - engine.CONTEXT_RADIUS), min(len(text), end + engine.CONTEXT_RADIUS)
        pieces, pos = [], a
        for g in found:  # every value within reach, as reports show it
            gs, ge = g.location["start"], g.location["end"]
            if ge > a and gs < b:
                pieces += [engine._scrub(fold(text[pos:max(pos, gs)])), g.masked]
                pos = max(pos, ge)
        pieces.append(engine._scrub(fold(text[pos:b])))
        snippet = "".join(pieces).replace("\n", " ").replace("\t", " ").strip()
        assert f.context == ("…" if a > 0 else "") + snippet + ("…" if b < len(text) else "")


def test_fold_batch_equals_fold():
    rng = random.Random(8)
    alphabet = "０１２Ａｚ＊●　\u00a0—–−，：年号ab12 \n"
    for _ in range(2000):
        # astral characters, and lone surrogates that must not pair up
        extra = rng.choice(("", "𠀀", "\ud800\udc00", "𠀀\ud800\udc00"))
        text = "".join(rng.choice(alphabet + extra) for _ in range(rng.randint(0, 700)))
        assert engine._fold_batch(text) == fold(text), text


def test_empty_and_tiny_texts(detector):
    for texts in ([], [""], ["𠀀", ""], ["1"], ["皖"], ["皖A"], ["\n\n"]):
        assert detector.detect_many([Segment(t) for t in texts], "x") == []
    [f] = detector.detect_many([Segment(""), Segment("13812345678"), Segment("")], "x")
    assert (f.location["start"], f.location["end"]) == (0, 11)


def test_digit_runs_numpy_equal_re(detector):
    rng = random.Random(11)
    alphabet = "0123456789０１２３４５６７８９ -－—*＊xX×●　年月号，：A皖𠀀\n"
    for _ in range(1000):
        text = "".join(rng.choice(alphabet) if rng.random() < 0.7 else rng.choice("0123456789")
                       for _ in range(rng.randint(0, 120)))
        if rng.random() < 0.3:  # a stretch opening with many masks or separators before its first digit
            text = rng.choice(("*", " ", "x", "－")) * rng.randint(1, 30) + text
        cls = detector._scan.classes(text) if text else None
        got = detector._scan.runs(cls, 11) if text else []
        want = [(rs, rend) for rs, rend, run in map(_span_group, _RAW_RUN.finditer(text))
                if len(fold(run)) - fold(run).count(" ") - fold(run).count("-") >= 11]
        assert [(a, b) for a, b, _ in got] == want, text
        for a, b, digits in got:
            run = fold(text[a:b])
            assert digits == len(run) - run.count(" ") - run.count("-")


def test_prefilter_candidates_numpy_equal_re(detector):
    rng = random.Random(5)
    alphabet = "皖京使新云宁 AＡBDI1０2·年号\n"
    for rule_no, (_, pattern, _) in enumerate(detector._prefiltered):
        for _ in range(300):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
            got = detector._scan.candidates(detector._scan.classes(text), rule_no)
            assert got == [m.start() for m in pattern.finditer(text)], text


def test_margin_of_a_neighbouring_window_does_not_invent_values(detector):
    # A window starts a few characters before its run, here inside a 14-digit permit number: the
    # mobile-shaped tail of that number has a digit before it and is no mobile.
    cells = ("1", "4201061956＊＊＊＊＊＊53", "粤A979G9", "44018320233579", "2", "＊＊＊＊＊＊＊＊＊＊＊＊＊＊3383",
             "粤A•D08848", "44018320239823", "3", "440183********1067")
    found = detector.detect_many([Segment(t) for t in cells], "x.csv")
    assert [f.entity for f in found] == ["CN_ID_CARD", "CN_LICENSE_PLATE", "CN_LICENSE_PLATE"]


def test_prefilter_derivation():
    rules = {r.id: RuleRecognizer(r) for r in load_rules()}
    plate = rules["cn-license-plate"].prefilter
    assert "皖" in plate.first and "使" in plate.first
    pairs = {frozenset(first): nxt for first, nxt in plate.pairs}
    assert pairs[frozenset("使")] == frozenset("0123456789")
    assert "A" in next(n for f, n in pairs.items() if "皖" in f)
    assert "1" not in next(n for f, n in pairs.items() if "皖" in f)
    assert set("0123456789") <= rules["cn-mobile"].prefilter.not_after
    assert _derive_prefilter(r"(?P<value>.\d+)") is None  # any first character
    assert _derive_prefilter(r"(?P<value>a*)") is None  # may be empty
    assert _derive_prefilter(r"(?P<value>a)").second is None
    assert _derive_prefilter(r"(?i)(?P<value>ab)") is None


def test_rule_that_needs_regex_syntax_still_works(rules):
    data = {
        "id": "han-plate", "entity": "HAN_PLATE", "severity": "low", "validator": "cn_plate",
        "params": {"provinces": "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"},
        "patterns": [{"name": "p", "regex": r"(?<=\p{Han}[:：]?)(?P<value>[皖京][A-Z][0-9]{5})(?![0-9])"}],
        "masking": {"region": [3, -1]}, "remediation": "x",
        "examples": {"positive": [{"text": "车牌皖A12345", "match": "皖A12345"}], "negative": ["x"]},
    }
    rule = parse_rule(data, "han.yaml")
    detector = Detector([rule], b"k")
    assert detector.recognizers[0]._fast is None  # \p{Han}: regex only, whole-text scan
    [f] = detector.detect_text("车牌：皖Ａ12345")
    assert f.masked == "皖A*****" and f.fingerprint == fingerprint(b"k", "皖A12345")
    assert detector.detect_text("x皖A12345") == []


def test_fingerprinter_equals_hmac():
    for key in (b"", b"k", b"test-key", bytes(range(64)), bytes(range(200))):
        sign = _Fingerprinter(key)
        for value in ("", "340823199001011236", "皖A12345", "138****5678", "𠀀" * 40):
            want = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
            assert sign(value) == want == fingerprint(key, value)


def test_id_check_char_equals_stdnum():
    rng = random.Random(3)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert id_check_char(body) == mod_11_2.calc_check_digit(body)
        assert validators._ID_CHECK[2 * int(body, 13) % 11] == id_check_char(body)  # is_valid's shortcut


def test_date_as_one_number_equals_building_the_date():
    rng = random.Random(4)
    today = datetime.date.today()
    numbers = [rng.randrange(10**8) for _ in range(20000)]
    numbers += [y * 10000 + m * 100 + d for y in (1879, 1880, 1900, 1999, 2000, 2004, 2023, today.year, today.year + 1)
                for m in range(14) for d in range(33)]
    for n in numbers:
        assert validators._valid_date_number(n) == validators._valid_date(n // 10000, n // 100 % 100, n % 100), n


def test_findings_identical_in_segments_and_lines(detector, bench):
    # One multi-line segment and the same text as one segment per line: same values, same places
    # (context snippets differ: in one segment they reach across line ends).
    text = bench.make_text(0.05, seed=9)
    whole = detector.detect_many([Segment(text, Location(line=1))], "a.txt")
    lines = text.split("\n")
    per_line = detector.detect_many([Segment(t, Location(line=i + 1)) for i, t in enumerate(lines)], "a.txt")
    key = [(f.location["line"], f.location["start"], f.location["end"], f.fingerprint) for f in whole]
    assert key == [(f.location["line"], f.location["start"], f.location["end"], f.fingerprint) for f in per_line]
    for f in whole:
        line = lines[f.location["line"] - 1]
        assert fold(line[f.location["start"]:f.location["end"]])  # offsets point into the segment text


def test_bench_text_is_deterministic_and_floor_agrees(detector, bench):
    a, b = bench.make_text(0.05, seed=1), bench.make_text(0.05, seed=1)
    assert a == b and a != bench.make_text(0.05, seed=2)
    assert 45_000 <= len(a.encode()) <= 60_000
    found = bench.run_leakscan(a)
    assert found == bench.run_regex_floor(a) > 15
    assert re.search(r"统一社会信用代码|ICP备|公网安备", a)
