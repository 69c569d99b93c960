"""The fake-data generator, the committed samples and the corpus generator (tools/)."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_2

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import eval as evaluate  # noqa: E402  (tools/eval.py)
import fakedata  # noqa: E402
import make_corpus  # noqa: E402

SAMPLES = ROOT / "samples"
EXPECTED = ROOT / "tests" / "fixtures" / "samples_expected.json"


# -- generator ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pool", ["samples", "corpus"])
def test_resident_ids_have_valid_prefix_date_and_check_character(pool: str) -> None:
    fake = fakedata.FakeData(7, pool)
    ids = [fake.resident_id() for _ in range(2000)]
    for rid in ids:
        assert len(rid) == 18 and rid[:17].isdigit()
        assert rid[:2] in fakedata.PROVINCE_CODES
        assert ric.calc_check_digit(rid) == rid[-1]  # stdnum's GB 11643 check
        assert mod_11_2.is_valid(rid)
        assert 1950 <= ric.get_birth_date(rid).year <= 2005
    assert sum(r.endswith("X") for r in ids) > 50  # about 1 in 11 ends in X


def test_resident_id_options() -> None:
    fake = fakedata.FakeData(3)
    assert fake.resident_id(check_x=True).endswith("X")
    assert not fake.resident_id(check_x=False).endswith("X")
    rid = fake.resident_id(area="340823", birth=dt.date(1990, 1, 1), male=True)
    assert rid.startswith("34082319900101") and int(rid[16]) % 2 == 1
    # an abolished county code still gives an ID valid in every respect stdnum checks but the place
    assert mod_11_2.is_valid(rid) and fakedata.is_valid_resident_id(rid)


def test_old_ids_are_15_digits_with_a_real_date() -> None:
    fake = fakedata.FakeData(4)
    for _ in range(500):
        old = fake.old_resident_id()
        assert len(old) == 15 and old.isdigit() and old[:2] in fakedata.PROVINCE_CODES
        dt.date(1900 + int(old[6:8]), int(old[8:10]), int(old[10:12]))


def test_mobiles_plates_cards_and_credit_codes() -> None:
    fake = fakedata.FakeData(5, "corpus")
    for _ in range(1000):
        mobile = fake.mobile()
        assert len(mobile) == 11 and mobile[:3] in fakedata.MOBILE_PREFIXES
        assert not mobile.startswith("174") or mobile[3] in "019"
        card = fake.bank_card()
        assert card.startswith("62") and 16 <= len(card) <= 19 and luhn.is_valid(card)
        assert uscc.is_valid(fake.uscc())
    plate_re = re.compile(
        f"^[{fakedata.PLATE_PROVINCES}][{fakedata.PLATE_LETTERS}]"
        "(?:[0-9A-HJ-NP-Z]{5}|[DF][0-9A-HJ-NP-Z][0-9]{4}|[0-9]{5}[DF]|[0-9]{4}[挂学警])$")
    for kind in ("normal", "ev_small", "ev_large", "trailer", "learner", "police"):
        for _ in range(200):
            plate = fake.plate(kind)
            assert plate_re.match(plate), plate
            assert "I" not in plate and "O" not in plate
    assert len(fakedata.PLATE_PROVINCES) == 31


def test_same_seed_same_values_and_pools_differ() -> None:
    def run(seed: int, pool: str) -> list[object]:
        fake = fakedata.FakeData(seed, pool)
        return [fake.person() for _ in range(50)] + [fake.plate() for _ in range(50)] + [fake.uscc()]

    assert run(11, "samples") == run(11, "samples")
    assert run(11, "samples") != run(12, "samples")
    names_a = {p.name for p in run(11, "samples")[:50]}  # type: ignore[union-attr]
    names_b = {p.name for p in run(11, "corpus")[:50]}  # type: ignore[union-attr]
    assert not names_a & names_b


@pytest.mark.parametrize(("entity", "value", "styles"), [
    ("CN_ID_CARD", "11010519491231002X",
     ["plain", "fullwidth", "lower_x", "times_x", "space_684", "hyphen_684", "space_44442"]),
    ("CN_MOBILE", "13812345678",
     ["plain", "plus86", "plus86_space", "0086", "86dash", "space_344", "dash_344", "fullwidth"]),
    ("CN_LICENSE_PLATE", "皖A12345", ["plain", "middot", "bullet", "dot", "hyphen", "space"]),
])
def test_every_rendering_normalizes_back(entity: str, value: str, styles: list[str]) -> None:
    render = {"CN_ID_CARD": fakedata.render_id, "CN_MOBILE": fakedata.render_mobile,
              "CN_LICENSE_PLATE": fakedata.render_plate}[entity]
    shown = {render(value, s) for s in styles}
    assert len(shown) == len(styles)
    assert {fakedata.normalize(entity, s) for s in shown} == {value}


def test_partial_masks_normalize_to_stars() -> None:
    assert fakedata.normalize("CN_ID_CARD", "1101051949＊＊＊＊＊＊2X") == "1101051949******2X"
    assert fakedata.normalize("CN_ID_CARD", "3408231990●●●●123X") == "3408231990****123X"
    assert fakedata.normalize("CN_ID_CARD", "3408231990××××123×") == "3408231990****123*"


def test_reference_detector_sees_values_and_not_negatives() -> None:
    assert fakedata.reference_hits("身份证号110105194912310021男 电话13812345678 车辆皖A·12345")
    assert not fakedata.reference_hits("皖ICP备12345678号-1 皖公网安备 34082302000123号 0556-5212345 云南省A级景区")


# -- committed samples ----------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_make_samples_writes_exactly_the_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "samples"
    truth = tmp_path / "truth.json"
    subprocess.run([sys.executable, str(TOOLS / "make_samples.py"), str(out), "--truth", str(truth)],
                   check=True, capture_output=True)
    fresh, committed = _tree(out), _tree(SAMPLES)
    assert truth.read_bytes() == EXPECTED.read_bytes()
    assert sorted(fresh) == sorted(committed)
    changed = [rel for rel in fresh if fresh[rel] != committed[rel]]
    assert not changed, f"regenerate with python tools/make_samples.py: {changed}"


def test_samples_stay_small() -> None:
    assert sum(len(b) for b in _tree(SAMPLES).values()) < 1_000_000


def _text_of(path: Path) -> str:
    """A file's text as a scanner would see it, leniently (no leakscan code involved)."""
    if "!/" in str(path):
        import zipfile

        archive, _, member = str(path).partition("!/")
        with zipfile.ZipFile(archive, metadata_encoding="gbk") as zf:
            return zf.read(member).decode("gb18030")
    data = path.read_bytes()
    if path.suffix == ".pdf":
        import pypdfium2

        pdf = pypdfium2.PdfDocument(data)
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    if path.suffix == ".docx":
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return html.unescape(re.sub(r"<[^>]+>", "", zf.read("word/document.xml").decode("utf-8")))
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        cells: list[str] = []
        for name in wb.sheet_names:
            for row in wb.get_sheet_by_name(name).to_python():
                for v in row:
                    if isinstance(v, float) and v.is_integer():
                        v = format(Decimal(f"{v:.15g}"), "f")  # what Excel shows: 15 significant digits
                    cells.append(str(v))
        return "\n".join(cells)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    if path.suffix != ".html":
        return text
    attributes = re.findall(r'=\s*"([^"]*)"', text)
    return html.unescape(re.sub(r"<[^>]+>", "", text) + "\n" + "\n".join(attributes))


def _squash(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).upper().replace("×", "X")
    return re.sub(r"[\s\-·•.'\"=+]", "", text)


def _count(value: str, text: str) -> int:
    squashed_value = _squash(value)
    pattern = "".join("[*＊●×X0-9]" if c == "*" else re.escape(c) for c in squashed_value)
    return len(re.findall(pattern, text))


def _check_truth_occurs(items: list[dict[str, str]], resolve) -> None:  # type: ignore[no-untyped-def]
    per_file: Counter[tuple[str, str]] = Counter((i["source"], i["value"]) for i in items)
    texts: dict[str, str] = {}
    for (source, value), n in per_file.items():
        if source not in texts:
            texts[source] = _squash(_text_of(resolve(source)))
        assert _count(value, texts[source]) >= n, f"{source}: a planted value occurs fewer than {n} times"


def test_expected_values_occur_in_their_sources() -> None:
    items = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert len(items) > 100
    assert {i["entity"] for i in items} == {"CN_ID_CARD", "CN_MOBILE", "CN_LICENSE_PLATE"}
    assert {i["exposure"] for i in items} == {"unmasked", "partial"}
    for i in items:
        assert (ROOT / i["source"].partition("!/")[0]).is_file(), i["source"]
        assert i["source"].startswith("samples/")
    _check_truth_occurs(items, lambda s: ROOT / s)


def test_expected_ids_are_valid_and_partials_keep_the_birth_year() -> None:
    items = json.loads(EXPECTED.read_text(encoding="utf-8"))
    for i in items:
        value = i["value"]
        if i["entity"] == "CN_ID_CARD" and i["exposure"] == "unmasked" and len(value) == 18:
            assert fakedata.is_valid_resident_id(value)
        if i["exposure"] == "partial":
            assert "*" in value and value[6:10].isdigit()


def test_negative_page_has_nothing_a_plain_regex_would_report() -> None:
    page = SAMPLES / "site" / "xxgk" / "202312" / "t20231220_1008.html"
    assert not fakedata.reference_hits(_text_of(page))
    items = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert not [i for i in items if i["source"].endswith("t20231220_1008.html")]


def test_planted_variants_cover_the_brief() -> None:
    variants = {i["variant"] for i in json.loads(EXPECTED.read_text(encoding="utf-8"))}
    for v in ("id:fullwidth", "id:lower_x", "id:times_x", "id:space_684", "id:space_44442", "id:hyphen_684",
              "id:disability_cert", "id:old15", "id:excel_number", "mobile:plus86", "mobile:0086", "mobile:86dash",
              "mobile:space_344", "mobile:dash_344", "mobile:fullwidth", "plate:normal:middot", "plate:normal:bullet",
              "plate:normal:dot", "plate:normal:hyphen", "plate:normal:space", "plate:ev_small:plain",
              "plate:ev_large:plain", "plate:trailer:plain", "plate:learner:plain"):
        assert v in variants, v


# -- corpus ---------------------------------------------------------------------------------------


def test_corpus_is_deterministic_and_its_truth_occurs(tmp_path: Path) -> None:
    out = str(tmp_path / "corpus")
    first = make_corpus.generate(out, seed=9, docs=40)
    assert first == make_corpus.generate(out, seed=9, docs=40)
    assert first != make_corpus.generate(out, seed=10, docs=40)
    subprocess.run([sys.executable, str(TOOLS / "make_corpus.py"), out, "--seed", "9", "--docs", "40"],
                   check=True, capture_output=True)
    assert _tree(Path(out)) == first
    items = json.loads(first["truth.json"])
    assert len(items) > 100
    assert all(i["source"].startswith(out + "/") for i in items)
    _check_truth_occurs(items, Path)
    kinds = {Path(rel).suffix for rel in first}
    assert {".html", ".txt", ".csv"} <= kinds
    if make_corpus.REAL_NEGATIVES.is_dir():
        assert any(rel.startswith("real-negatives/") for rel in first)
    assert not (ROOT / "tools" / "real-negatives").exists()


# -- eval -----------------------------------------------------------------------------------------


def _report(findings: list[dict[str, str]]) -> dict[str, object]:
    return {"schema": "leakscan.report/1", "documents": [], "findings": findings}


def test_eval_matches_multisets_and_masks_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = "k"
    truth = [
        {"source": "d/a.html", "entity": "CN_ID_CARD", "exposure": "unmasked", "value": "11010519491231002X"},
        {"source": "d/a.html", "entity": "CN_ID_CARD", "exposure": "unmasked", "value": "11010519491231002X"},
        {"source": "d/a.html", "entity": "CN_MOBILE", "exposure": "unmasked", "value": "13812345678"},
    ]
    fp = evaluate.fingerprint
    findings = [
        {"source": "./d/a.html", "entity": "CN_ID_CARD", "exposure": "unmasked",
         "fingerprint": fp(key, "11010519491231002X"), "masked": "110105********002X"},
        {"source": "d/a.html", "entity": "CN_MOBILE", "exposure": "partial", "fingerprint": fp(key, "13812345678"),
         "masked": "138****5678"},
        {"source": "d/a.html", "entity": "BANK_CARD", "exposure": "unmasked", "fingerprint": "x", "masked": "6222***"},
    ]
    (tmp_path / "t.json").write_text(json.dumps(truth), encoding="utf-8")
    (tmp_path / "r.json").write_text(json.dumps(_report(findings)), encoding="utf-8")
    args = [str(tmp_path / "r.json"), str(tmp_path / "t.json"), "--key", key]
    assert evaluate.main(args) == 0
    out = capsys.readouterr().out
    assert "recall  33.3%" in out and "precision  50.0%" in out
    assert "110105********002X" in out and "138****5678" in out
    assert "11010519491231002X" not in out and "13812345678" not in out
    assert "reported as CN_MOBILE/partial" in out
    assert evaluate.main(args + ["--min-recall", "0.5"]) == 1
    assert evaluate.main(args + ["--min-precision", "0.4"]) == 0
    assert evaluate.main(args + ["--key", "other"]) == 0  # wrong key: nothing matches, still exit 0
    assert "recall   0.0%" in capsys.readouterr().out
