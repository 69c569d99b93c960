"""Detection benchmark: leakscan against conventional presidio and against a bare ``regex`` floor.

    python bench/detect.py [--mb 20] [--reps 3] [--presidio-mb 1]

Three ways of finding resident IDs, mobiles and plates in the same deterministic fake text:

* ``run_leakscan``: leakscan's :class:`~scanner.detect.engine.Detector` (all built-in rules,
  context, masking policy, findings with masked context), fed as the text extractor and the
  pipeline feed it: documents of about 100 KB, one segment each.
* ``run_regex_floor``: one ``regex.finditer`` loop per entity (plain ID with the MOD 11-2 check,
  plain mobile, plain plate) over the whole text: the floor of pure pattern matching.
* ``run_presidio``: presidio-analyzer used the conventional way: ``AnalyzerEngine`` with a blank
  Chinese spaCy pipeline (saved to disk once, loaded offline) and one ``PatternRecognizer`` per
  entity with the floor's patterns (the ID one with the check as ``validate_result``), fed the
  same ~100 KB documents; it is super-linear in document size, so it is timed on a ~1 MB slice
  (leakscan is timed on the same slice for that ratio) and also on ~10 KB documents.

``make_text`` plants plain values only (about one identifier per 2 KB of UTF-8) between
disclosure-like sentences and realistic distractors that neither detector may report (credit codes,
ICP and 公网安备 numbers, landlines, hotlines, amounts, dates, document numbers, masked values),
so all three counts should be equal: the runner can check that leakscan finds what the floor finds.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import regex

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from fakedata import PLATE_PROVINCES, FakeData, reference_hits  # noqa: E402
from make_corpus import REGIONS, negative_snippets  # noqa: E402

#: Leakscan is fed documents of about this many UTF-8 bytes (a page or a small attachment).
DOC_BYTES = 100_000
#: Presidio is super-linear in document size: besides the same ~100 KB documents leakscan gets
#: (the like-for-like figure), it is also timed on ~10 KB documents, where it is at its best.
PRESIDIO_SMALL_DOC_BYTES = 10_000
#: Average UTF-8 bytes of text per planted identifier.
BYTES_PER_IDENTIFIER = 2048
#: Share of lines that are distractors from the evaluation corpus's hard negatives (credit codes,
#: ICP/公网安备 numbers, landlines, hotlines, bank accounts, order and voucher numbers, IMEIs …):
#: about 4 per identifier, 2.4 of them runs of 11+ digits, as many per identifier as in
#: ``tools/make_corpus.py`` output. The other lines carry dates, amounts and document numbers.
DISTRACTOR_LINES = 0.2

# -- fake text ---------------------------------------------------------------------------------

_TOPICS = ("政府信息公开", "行政审批", "社会救助", "农村人居环境整治", "安全生产", "食品安全", "义务教育",
           "医疗保障", "就业创业", "住房保障", "交通运输", "生态环境保护", "乡村振兴", "营商环境", "防汛抗旱")
_SENTENCES = (
    "根据《中华人民共和国政府信息公开条例》第五十条规定，现公布{year}年度{org}{topic}工作情况。",
    "{year}年，{org}坚持以习近平新时代中国特色社会主义思想为指导，全面贯彻落实党中央、国务院决策部署，扎实推进{topic}工作。",
    "全年共主动公开政府信息{n}条，其中规范性文件{m}件，政策解读{k}篇，依申请公开办理{k}件，办结率100%。",
    "截至{year}年{month}月{day}日，累计投入资金{amount}万元，完成年度目标任务的{pct}%，同比增长{pct2}%。",
    "下一步，{org}将进一步完善{topic}工作机制，强化监督检查，切实提升群众的获得感、幸福感和安全感。",
    "对在{topic}工作中发现的问题，各乡镇（街道）要于{month}月{day}日前完成整改，并将整改情况报送县政府办公室。",
    "本年度未发生因政府信息公开引起的行政复议、行政诉讼案件，信息公开工作存在的主要问题是公开内容不够全面。",
    "发布机构：{org}    发布日期：{year}-{month:02d}-{day:02d}    文号：{code}〔{year}〕{k}号    主题分类：{topic}",
    "经研究，决定对{county}{topic}专项资金予以拨付，资金来源为{year}年中央财政衔接推进乡村振兴补助资金。",
    "会议指出，要以新时代新征程为契机，聚焦高质量发展首要任务，统筹发展和安全，推动{topic}提质增效。",
    "附件：1.{county}{year}年{topic}实施方案（{code}〔{year}〕{k}号）  2.{topic}任务分解表  3.联系人名单",
    "{county}位于省境东南部，总面积{n}平方千米，辖{m}个镇、{k}个乡，户籍人口{amount}万人。",
    "项目总投资{amount}万元，其中省级补助{k}万元，县级配套{m}万元，建设工期{k}个日历天，质量标准为合格。",
    "依据《中华人民共和国行政处罚法》第{k}条、《{topic}管理条例》第{m}条的规定，决定给予警告并处罚款人民币{amount}元。",
    "如对本决定不服，可在收到本决定书之日起六十日内向{county}人民政府申请行政复议，或者在六个月内依法提起行政诉讼。",
    "公示期为{year}年{month}月{day}日至{year}年{month}月{day2}日，共{k}个工作日。公示期间如有异议，请以书面形式反映。",
    "新建云计算中心一座，青年创业园入驻企业{k}家，吉祥社区、宁远村、川口镇等地完成黑臭水体治理{m}处。",
    "各单位要高度重视，加强组织领导，明确责任分工，确保各项工作任务按时保质完成，重要情况及时报告。",
)
_PERSON_LINES = (
    "{i}  {name}  {sex}  {rid}  {town}",
    "当事人：{name}，性别：{sex}，公民身份号码：{rid}，住址：{county}{town}。",
    "申请人{name}（身份证号{rid}）于{year}年{month}月{day}日提出申请，经审核符合条件。",
    "联系人：{name}，联系电话：{mobile}，邮箱：zwgk@example.gov.cn",
    "{i}  {name}  {mobile}  {town}  {amount}",
    "车辆号牌：{plate}，车辆类型：小型普通客车，车主：{surname}**，停放地点：{town}人民路。",
    "{i}  {plate}  轻型货车  {town}  逾期未处理",
    "经办人{name}，手机{mobile}，负责{topic}材料收集。",
)
_TOWNS = ("城关镇", "南溪镇", "石桥乡", "河口镇", "东湖街道", "西山乡", "新华街道", "宁远镇", "青山乡", "云台镇")

_FLOOR_ID = regex.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_FLOOR_MOBILE = regex.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
_FLOOR_PLATE = regex.compile(rf"(?<![0-9A-Za-z])[{PLATE_PROVINCES}][A-HJ-NP-Z]·?[A-HJ-NP-Z0-9]{{5,6}}(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_check_ok(value: str) -> bool:
    """GB 11643 check character (ISO 7064 MOD 11-2), inlined as a bare loop would have it."""
    total = sum(int(c) * w for c, w in zip(value, _ID_WEIGHTS, strict=False))
    return "10X98765432"[total % 11] == value[17].upper()


def _floor_clean(s: str) -> bool:
    return not (_FLOOR_MOBILE.search(s) or _FLOOR_PLATE.search(s)
                or any(_id_check_ok(m.group()) for m in _FLOOR_ID.finditer(s)) or reference_hits(s))


def make_text(mb: float, seed: int = 0) -> str:
    """About ``mb`` MB (UTF-8) of disclosure-like Chinese text, one identifier per ~2 KB. Deterministic."""
    rng = random.Random(seed)
    fake = FakeData(seed, pool="corpus")
    target = int(mb * 1_000_000)
    out: list[str] = []
    size = 0
    negatives: list[str] = []
    while size < target:
        region = REGIONS[rng.randrange(len(REGIONS))]
        county = region.county
        org = county + rng.choice(("人民政府", "民政局", "市场监督管理局", "公安局交通管理大队", "财政局"))
        block: list[str] = []
        block_size = 0
        budget = rng.randint(BYTES_PER_IDENTIFIER // 2, BYTES_PER_IDENTIFIER * 3 // 2)
        while block_size < budget:
            if rng.random() < DISTRACTOR_LINES:
                if not negatives:
                    negatives = [s for s in negative_snippets(fake, region, "民政局") if _floor_clean(s)]
                line = negatives.pop()
            else:
                year = rng.randint(2019, 2024)
                month, day = rng.randint(1, 12), rng.randint(1, 20)
                line = rng.choice(_SENTENCES).format(
                    year=year, month=month, day=day, day2=day + 7, org=org, county=county,
                    topic=rng.choice(_TOPICS), code=county[0] + rng.choice("政财民发办"),
                    n=rng.randint(100, 9999), m=rng.randint(2, 99), k=rng.randint(1, 300),
                    amount=f"{rng.randint(1, 99999):,}.{rng.randint(0, 99):02d}",
                    pct=rng.randint(50, 100), pct2=f"{rng.randint(1, 300) / 10:.1f}")
            block.append(line)
            block_size += len(line.encode("utf-8")) + 1
        # One identifier in this block, placed at random among its lines.
        kind = rng.random()
        person = fake.person()
        fields: dict[str, Any] = dict(
            i=rng.randint(1, 60), name=person.name, surname=person.name[0], sex=person.sex,
            rid=person.resident_id, mobile=person.mobile, county=county, town=rng.choice(_TOWNS),
            topic=rng.choice(_TOPICS), year=rng.randint(2019, 2024), month=rng.randint(1, 12),
            day=rng.randint(1, 28), amount=f"{rng.randint(300, 9000)}.00")
        if kind < 0.5:
            template = rng.choice(_PERSON_LINES[:3])
        elif kind < 0.8:
            template = rng.choice((_PERSON_LINES[3], _PERSON_LINES[4], _PERSON_LINES[7]))
        else:
            plate = fake.plate(rng.choice(("normal", "normal", "normal", "ev_small", "ev_large")))
            fields["plate"] = plate if rng.random() < 0.7 else plate[:2] + "·" + plate[2:]
            template = rng.choice(_PERSON_LINES[5:7])
        block.insert(rng.randrange(len(block) + 1), template.format(**fields))
        text = "\n".join(block) + "\n"
        out.append(text)
        size += len(text.encode("utf-8"))
    return "".join(out)


def split_documents(text: str, doc_bytes: int) -> list[str]:
    """Cut ``text`` at line ends into documents of about ``doc_bytes`` UTF-8 bytes."""
    step = max(1, doc_bytes // 3)  # Chinese text: ~3 bytes a character
    docs: list[str] = []
    pos = 0
    while pos < len(text):
        cut = text.find("\n", pos + step)
        cut = len(text) if cut < 0 else cut + 1
        docs.append(text[pos:cut])
        pos = cut
    return docs


# -- the three contenders --------------------------------------------------------------------------


@cache
def _detector() -> Any:
    from scanner.detect.engine import Detector
    from scanner.detect.rules import load_rules

    return Detector(load_rules(), b"bench-key")


def run_leakscan(text: str) -> int:
    """Findings of leakscan's Detector in ``text`` (fed as ~100 KB documents of one segment)."""
    from scanner.model import Location, Segment

    detector = _detector()
    return sum(len(detector.detect_many([Segment(doc, Location(line=1))], f"doc{i}.txt"))
               for i, doc in enumerate(split_documents(text, DOC_BYTES)))


def run_regex_floor(text: str) -> int:
    """Hits of three bare ``regex.finditer`` loops (ID with its check character, mobile, plate)."""
    n = sum(1 for m in _FLOOR_ID.finditer(text) if _id_check_ok(m.group()))
    n += sum(1 for _ in _FLOOR_MOBILE.finditer(text))
    n += sum(1 for _ in _FLOOR_PLATE.finditer(text))
    return n


@cache
def _presidio() -> Any:
    import spacy
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model_dir = Path(tempfile.gettempdir()) / f"leakscan-bench-spacy-zh-{spacy.__version__}"
    if not (model_dir / "config.cfg").exists():
        spacy.blank("zh").to_disk(model_dir)  # offline: a blank pipeline loaded from a path

    class IdRecognizer(PatternRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return _id_check_ok(pattern_text)

    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "zh", "model_name": str(model_dir)}]}).create_engine()
    registry = RecognizerRegistry(supported_languages=["zh"])
    registry.add_recognizer(IdRecognizer(supported_entity="CN_ID_CARD", supported_language="zh",
                                         patterns=[Pattern("id18", _FLOOR_ID.pattern, 0.5)],
                                         context=["身份证", "身份号码", "证件号码"]))
    registry.add_recognizer(PatternRecognizer(supported_entity="CN_MOBILE", supported_language="zh",
                                              patterns=[Pattern("mobile", _FLOOR_MOBILE.pattern, 0.5)],
                                              context=["手机", "电话", "联系方式"]))
    registry.add_recognizer(PatternRecognizer(supported_entity="CN_LICENSE_PLATE", supported_language="zh",
                                              patterns=[Pattern("plate", _FLOOR_PLATE.pattern, 0.5)],
                                              context=["车牌", "号牌", "车辆"]))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["zh"])


def run_presidio(text: str, doc_bytes: int = DOC_BYTES) -> int:
    """Results of a conventional presidio ``AnalyzerEngine`` (blank zh spaCy) over ``text``, fed
    as documents of about ``doc_bytes`` (by default the same documents :func:`run_leakscan` gets)."""
    engine = _presidio()
    entities = ["CN_ID_CARD", "CN_MOBILE", "CN_LICENSE_PLATE"]
    return sum(len(engine.analyze(text=doc, language="zh", entities=entities))
               for doc in split_documents(text, doc_bytes))


def run_presidio_small_docs(text: str) -> int:
    """:func:`run_presidio` on ~10 KB documents, where presidio is fastest."""
    return run_presidio(text, PRESIDIO_SMALL_DOC_BYTES)


# -- measuring -------------------------------------------------------------------------------------


def _time(fn: Callable[[str], int], text: str) -> tuple[float, int]:
    gc.collect()  # the garbage of the previous contender (presidio's spaCy docs) is not collected on this one's time
    t0 = time.process_time()
    n = fn(text)
    return time.process_time() - t0, n


def measure(mb: float = 20.0, reps: int = 3, presidio_mb: float = 1.0, seed: int = 0,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Medians over ``reps`` interleaved rounds (leakscan, floor, leakscan on the slice, presidio,
    presidio on small documents).

    Presidio runs on the first ~``presidio_mb`` MB only; leakscan is timed on that same slice in
    the same round, so ``detect_vs_presidio`` compares like with like. Times are CPU seconds of
    this process (``time.process_time``): less disturbed by other work on a shared machine.
    Before each timing the garbage collector runs, outside the timed part.
    """
    text = make_text(mb, seed)
    size = len(text.encode("utf-8")) / 1e6
    small = split_documents(text, int(presidio_mb * 1e6))[0]
    small_size = len(small.encode("utf-8")) / 1e6
    _detector(), _presidio()
    run_leakscan(small), run_presidio(small[:20_000])  # warm caches and lazy imports
    # The loaded libraries (presidio, spaCy, the rules: ~100k objects) leave the collector's
    # generations, as in leakscan's scanning workers (pipeline.scan_groups); otherwise whichever
    # contender happens to trigger a full collection pays for traversing all of them.
    gc.collect()
    gc.freeze()
    contenders: list[tuple[str, Callable[[str], int], str]] = [
        ("leakscan", run_leakscan, text), ("floor", run_regex_floor, text),
        ("leakscan_slice", run_leakscan, small), ("presidio", run_presidio, small),
        ("presidio_10kb", run_presidio_small_docs, small)]
    rows: dict[str, list[float]] = {name: [] for name, _, _ in contenders}
    counts: dict[str, int] = {}
    for rep in range(reps):
        for name, fn, t in contenders:
            seconds, n = _time(fn, t)
            rows[name].append(seconds)
            counts[name] = n
            log(f"  round {rep + 1}: {name:15} {n:7d} hits  {seconds:7.3f} s")
    med = {k: statistics.median(v) for k, v in rows.items()}

    def ratio(slow: str, fast: str) -> float:  # per round, then the median
        return statistics.median(s / f for s, f in zip(rows[slow], rows[fast], strict=True))

    return {
        "detect_mb_s": round(size / med["leakscan"], 2),
        "detect_vs_presidio": round(ratio("presidio", "leakscan_slice"), 1),
        "detect_vs_regex": round(ratio("floor", "leakscan"), 3),
        "detect_vs_presidio_10kb_docs": round(ratio("presidio_10kb", "leakscan_slice"), 1),
        "detect_text_mb": round(size, 2),
        "detect_presidio_slice_mb": round(small_size, 2),
        "detect_regex_mb_s": round(size / med["floor"], 2),
        "detect_presidio_mb_s": round(small_size / med["presidio"], 3),
        "detect_presidio_10kb_mb_s": round(small_size / med["presidio_10kb"], 3),
        "detect_counts": {"leakscan": counts["leakscan"], "regex": counts["floor"],
                          "leakscan_slice": counts["leakscan_slice"], "presidio": counts["presidio"],
                          "presidio_10kb": counts["presidio_10kb"]},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the detection comparison, print the figures and return them."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20.0, help="MB of text for leakscan and the regex floor")
    ap.add_argument("--presidio-mb", type=float, default=1.0, help="MB slice for presidio (slow, super-linear)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    res = measure(args.mb, args.reps, args.presidio_mb, args.seed)
    print(f"detect_mb_s         {res['detect_mb_s']:8.2f}  leakscan MB/s on {res['detect_text_mb']} MB")
    print(f"detect_vs_presidio  {res['detect_vs_presidio']:8.1f}  ÷ presidio AnalyzerEngine + blank zh "
          f"({res['detect_presidio_mb_s']} MB/s on a {res['detect_presidio_slice_mb']} MB slice, "
          "same ~100 KB documents)")
    print(f"  (on ~10 KB documents, presidio's best case: {res['detect_vs_presidio_10kb_docs']:.1f}, "
          f"presidio {res['detect_presidio_10kb_mb_s']} MB/s)")
    print(f"detect_vs_regex     {res['detect_vs_regex']:8.3f}  ÷ bare regex floor ({res['detect_regex_mb_s']} MB/s)")
    print(f"counts              {res['detect_counts']}")
    return res


if __name__ == "__main__":
    main()
