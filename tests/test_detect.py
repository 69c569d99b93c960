"""Detection behaviour beyond the rule examples: fingerprints, masking policy, context, overlaps."""

from __future__ import annotations

from conftest import hmac_hex

from scanner.model import Location, Segment


def test_fingerprint_is_hmac_of_normalized_value(detector):
    [f] = detector.detect_text("身份证号：１１０１０５ １９４９１２３１ ００２x")
    assert f.fingerprint == hmac_hex("11010519491231002X")
    [m] = detector.detect_text("电话 +86 138-1234-5678")
    assert m.fingerprint == hmac_hex("13812345678")
    [p] = detector.detect_text("车牌 皖a·12345".replace("a", "A"))
    assert p.fingerprint == hmac_hex("皖A12345")


def test_partial_fingerprint_writes_masks_as_star(detector):
    [f] = detector.detect_text("身份证号 3408231990＊＊＊＊1236")
    assert f.exposure == "partial"
    assert f.fingerprint == hmac_hex("3408231990****1236")
    assert f.masked == "340823********1236"
    assert f.severity == "medium"


def test_policy_masked_values_are_no_finding(detector):
    text = "身份证号 340823********1236，手机 138****5678，车牌 皖A·12***，身份证号 110105xxxxxxxx002X"
    assert detector.detect_text(text) == []


def test_no_raw_value_in_finding(detector):
    raw = "340823199001011236"
    [f] = detector.detect_text(f"姓名 张三 身份证号 {raw} 联系人李四")
    d = f.to_dict()
    assert raw not in str(d)
    assert "张三" not in d["context"] and "李四" not in d["context"]


def test_column_header_gives_context_and_negative_context_suppresses(detector):
    seg = Segment("340823199001011236", Location(sheet="Sheet1", cell="C5"), header="身份证号码")
    [f] = detector.detect(seg, "list.xlsx")
    assert f.location["sheet"] == "Sheet1" and f.location["cell"] == "C5"
    assert f.location["start"] == 0 and f.location["end"] == 18
    assert f.confidence == 1.0
    assert detector.detect(Segment("110105491231002", header="注册号"), "x") == []


def test_credit_code_lookalike_dropped_only_with_credit_context(detector):
    # An all-digit 18-character value valid both as an ID and as a unified social credit code.
    from stdnum.cn import uscc
    from stdnum.iso7064 import mod_11_2

    both = None
    for seq in range(1000):
        body = f"11010519800101{seq:03d}"
        cand = body + mod_11_2.calc_check_digit(body)
        if uscc.is_valid(cand):
            both = cand
            break
    assert both is not None
    assert detector.detect_text(f"统一社会信用代码：{both}") == []
    assert len(detector.detect_text(f"王五 {both} 注销")) == 1


def test_line_numbers_and_columns_in_multiline_segment(detector):
    seg = Segment("第一行\n第二行 手机13812345678\n", Location(line=10))
    [f] = detector.detect(seg, "a.txt")
    assert f.location["line"] == 11
    assert f.location["start"] == 6 and f.location["end"] == 17


def test_overlap_prefers_id_over_mobile_inside_it(detector):
    found = detector.detect_text("证件号码 11010519491231002X")
    assert [f.entity for f in found] == ["CN_ID_CARD"]


def test_not_inside_longer_digit_runs(detector):
    assert detector.detect_text("流水 134082319900101123612") == []
    assert detector.detect_text("账号 6222021381234567890 金额 13812345678.50元") == []
