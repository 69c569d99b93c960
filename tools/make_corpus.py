"""Write a larger labelled evaluation corpus (not committed) for measuring recall and precision.

    python tools/make_corpus.py OUT_DIR [--seed N] [--docs N]
    leakscan scan OUT_DIR --format json --output /tmp/c.json --key k
    python tools/eval.py /tmp/c.json OUT_DIR/truth.json --key k

Documents (.txt, .html in UTF-8 and GBK, .csv in UTF-8 with BOM and GBK) follow disclosure
templates other than the samples' (civil affairs, housing, market regulation, human resources,
public security, agriculture; invented counties in other provinces; a disjoint name pool), with
randomised layouts, every spelling variant of the samples, split HTML runs, and many hard
negatives per document. The public annual reports in ``../shared/real-negatives`` (read at run
time, never copied into the repository) are copied into ``OUT_DIR/real-negatives/`` and also lend
paragraphs of filler text. ``OUT_DIR/truth.json`` lists every planted value once per occurrence,
with sources as ``leakscan scan OUT_DIR`` names them.
"""

from __future__ import annotations

import argparse
import csv
import io
import posixpath
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from stdnum import luhn
from stdnum.cn import uscc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakedata import (  # noqa: E402
    CN_ID_CARD,
    FakeData,
    Person,
    Truth,
    dump_truth,
    is_valid_resident_id,
    org_check_char,
    reference_hits,
)

REPO = Path(__file__).resolve().parent.parent
REAL_NEGATIVES = REPO.parent / "shared" / "real-negatives"


@dataclass(frozen=True)
class Region:
    """An invented county: its name, the area code its people's IDs start with, its plates and phones."""

    county: str
    area: str
    plate_prov: str
    plate_letter: str
    phone_area: str
    icp: str


REGIONS: tuple[Region, ...] = (
    Region("鹤岭县", "430124", "湘", "A", "0731", "湘"),
    Region("枫林县", "510124", "川", "A", "028", "蜀"),
    Region("望川县", "440183", "粤", "A", "020", "粤"),
    Region("澄湖县", "370124", "鲁", "A", "0531", "鲁"),
    Region("鹿鸣县", "410122", "豫", "A", "0371", "豫"),
    Region("柏舟县", "330127", "浙", "A", "0571", "浙"),
    Region("石泉岭县", "610124", "陕", "A", "029", "陕"),
    Region("北屯乡县", "230124", "黑", "A", "0451", "黑"),
)

DEPARTMENTS = ("民政局", "住房和城乡建设局", "市场监督管理局", "人力资源和社会保障局", "公安局交通管理大队",
               "农业农村局", "城市管理综合执法局", "交通运输局")

ID_LABELS = ("身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证")
MOBILE_LABELS = ("联系电话", "手机号码", "手机", "联系方式", "电话")
PLATE_LABELS = ("车牌号码", "号牌号码", "车牌号", "车辆号牌")
NAME_LABELS = ("姓名", "申请人", "户主姓名", "当事人")


def weighted(rng: random.Random, table: list[tuple[str, float]]) -> str:
    """Pick a key from (key, weight) pairs."""
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]


class Planter:
    """Renders and records values for one document, choosing spellings at random."""

    def __init__(self, fake: FakeData, truth: Truth, region: Region, gbk: bool, masking: str) -> None:
        self.fake = fake
        self.rng = fake.rng
        self.t = truth
        self.region = region
        self.gbk = gbk  # strict GBK output: avoid characters it cannot encode
        self.masking = masking  # "none", "policy" (most masked as required, a few slips) or "mixed"

    def person(self) -> Person:
        local = self.rng.random() < 0.6
        return self.fake.person(area=self.region.area) if local else self.fake.person()

    # IDs -------------------------------------------------------------------------------------

    def id_value(self, rid: str, label_is_id: bool = True) -> str:
        """An ID cell or value: unmasked, partially masked or masked as policy requires."""
        rng = self.rng
        mask_roll = rng.random()
        if self.masking == "policy":
            if mask_roll < 0.8:
                return self._policy_mask_id(rid)
            if mask_roll < 0.95:
                return self._partial_id(rid)
        elif self.masking == "mixed" and mask_roll < 0.3:
            return self._policy_mask_id(rid) if mask_roll < 0.2 else self._partial_id(rid)
        if label_is_id and rng.random() < 0.04:
            return self.t.add(CN_ID_CARD, self.fake.old_resident_id(), "id:old15")
        if rid.endswith("X") and rng.random() < 0.5:
            return self.t.id(rid, rng.choice(("lower_x", "lower_x", "times_x", "fullwidth")))
        style = weighted(rng, [("plain", 80), ("fullwidth", 4), ("space_684", 4), ("hyphen_684", 3),
                               ("space_44442", 3)])
        return self.t.id(rid, style)

    def _policy_mask_id(self, rid: str) -> str:
        star = "*" if self.gbk or self.rng.random() < 0.8 else self.rng.choice("＊●")
        form = self.rng.randrange(4)
        if form == 0:
            return rid[:6] + star * 8 + rid[-4:]
        if form == 1:
            return rid[:2] + star * 14 + rid[-2:]
        if form == 2:
            return rid[:1] + star * 16 + rid[-1:]
        return star * 14 + rid[-4:]

    def _partial_id(self, rid: str) -> str:
        star = self.rng.choice("**＊●×")
        form = self.rng.randrange(4)
        if form == 0:
            shown = rid[:10] + star * 4 + rid[-4:]
        elif form == 1:
            shown = rid[:10] + star * 6 + rid[-2:]
        elif form == 2:
            shown = rid[:14] + star * 4
        else:
            shown = rid[:6] + star * 4 + rid[10:]  # year hidden, month and day readable
        return self.t.add(CN_ID_CARD, shown, f"id:partial{form}", "partial")

    def disability_cert(self, rid: str) -> str:
        self.t.add(CN_ID_CARD, rid, "id:disability_cert")
        return rid + f"{self.rng.randint(1, 7)}{self.rng.randint(1, 4)}"

    # mobiles ---------------------------------------------------------------------------------

    def mobile_value(self, mobile: str) -> str:
        rng = self.rng
        if self.masking == "policy" and rng.random() < 0.85:
            return mobile[:3] + "****" + mobile[-4:]
        if self.masking == "mixed" and rng.random() < 0.25:
            return mobile[:3] + "****" + mobile[-4:]
        style = weighted(rng, [("plain", 75), ("plus86", 3), ("plus86_space", 2), ("0086", 2), ("86dash", 2),
                               ("space_344", 5), ("dash_344", 5), ("fullwidth", 3)])
        return self.t.mobile(mobile, style)

    # plates ----------------------------------------------------------------------------------

    def plate_value(self, kind: str | None = None, local: bool | None = None) -> str:
        rng = self.rng
        kind = kind or weighted(rng, [("normal", 70), ("ev_small", 12), ("ev_large", 5), ("trailer", 6),
                                      ("learner", 4), ("police", 3)])
        local = rng.random() < 0.7 if local is None else local
        prov = self.region.plate_prov if local else None
        plate = self.fake.plate(kind, province=prov, authority=self.region.plate_letter if local else None)
        styles = [("plain", 70), ("middot", 10), ("hyphen", 5), ("space", 5), ("dot", 3)]
        if not self.gbk:
            styles.append(("bullet", 3))
        return self.t.plate(plate, weighted(rng, styles), kind)


# -- hard negatives ------------------------------------------------------------------------------


def negative_snippets(fake: FakeData, region: Region, dept: str) -> list[str]:
    """Sentences real pages are full of that must not be reported as personal data."""
    rng = fake.rng
    r = region
    code = f"{r.county[0]}{dept[0]}"
    year = rng.randint(2019, 2024)
    landline = fake.landline(r.phone_area)
    snippets = [
        f"联系电话：{landline}",
        f"咨询电话：（{r.phone_area}）{fake.landline(r.phone_area, sep='').removeprefix(r.phone_area)}",
        f"传真：{fake.landline(r.phone_area, sep='')}",
        "政务服务便民热线：12345；交通运输服务监督电话：12328；消费者投诉举报专线：12315",
        f"客服电话：400-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}，95588",
        f"{r.icp}ICP备{fake.digits(8)}号-{rng.randint(1, 9)}",
        f"{r.icp}公网安备 {r.area}0{fake.digits(7, '0123456789')}号",
        f"网站标识码：{r.area}{fake.digits(4, '0123456789')}",
        f"统一社会信用代码：{fake.uscc(r.area)}",
        f"开户银行：{r.county}农村商业银行，账号：{fake.bank_card()}",
        f"收款账号：{' '.join(c for c in _chunks(fake.bank_card(19), 4))}",
        f"银行卡号：{(card := fake.bank_card(19))[:6]}*********{card[-4:]}",
        f"电子缴款凭证号：{year}{fake.digits(16, '0123456789')}",
        f"订单编号：{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{fake.digits(12, '0123456789')}",
        f"交易流水号：{fake.digits(22)}",
        f"营业执照注册号：{r.area}0000{fake.digits(5, '0123456789')}",
        f"准考证号：{year}{fake.digits(8, '0123456789')}",
        f"发票代码：{r.area[:4]}{year % 100}{fake.digits(6, '0123456789')}，发票号码：{fake.digits(8, '0123456789')}",
        f"文号：{code}〔{year}〕{rng.randint(1, 120)}号",
        f"{r.county}人民政府办公室关于印发《{r.county}{year}年重点工作任务分解方案》的通知（{r.county[0]}政办〔{year}〕"
        f"{rng.randint(1, 60)}号）",
        f"发布日期：{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(8, 18):02d}:"
        f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        f"全年累计办理{rng.randint(1000, 99999):,}件，同比增长{rng.randint(1, 300) / 10:.1f}%，"
        f"涉及金额{fake.amount(100_000, 90_000_000)}元",
        f"补助资金合计人民币{fake.amount(10_000, 5_000_000)}元（大写：壹拾叁万捌仟元整）",
        f"{r.county}某景区获评国家AAAA级旅游景区，学习云南省A级景区建设经验，融入粤港澳大湾区发展",
        "京A、沪A号段车辆限行政策参照执行；本单位获评A级纳税人",
        f"G{rng.randint(100, 360)}国道K{rng.randint(10, 999)}+{rng.randint(100, 900)}处，S{rng.randint(200, 399)}省道",
        f"档案编号：{_bad_check(fake, r.area)}",
        f"邮政编码：{r.area[:2]}{fake.digits(4, '0123456789')}",
        f"坐标：北纬{rng.randint(20, 45)}.{fake.digits(6, '0123456789')}，东经{rng.randint(100, 125)}."
        f"{fake.digits(6, '0123456789')}",
        f"合同编号：{code}CG-{year}-{rng.randint(1, 999):04d}",
        f"经办人：{fake.name()[0]}**，联系电话：{(m := fake.mobile())[:3]}****{m[-4:]}",
        f"身份证号：{(rid := fake.resident_id(area=r.area))[:6]}********{rid[-4:]}（已脱敏）",
    ]
    clean = [s for s in snippets if not reference_hits(s)]
    # Labelled look-alikes a context-blind detector would report: an IMEI is 15 digits and often
    # carries a date-like run where an old ID has its birth date; an all-digit credit code is 18 digits.
    tac = rng.choice(("35", "86")) + fake.digits(6, "0123456789")
    imei = tac + fake.digits(6, "0123456789")
    clean.append(f"执法记录仪设备IMEI：{imei}{luhn.calc_check_digit(imei)}")
    digit_code = "12" + r.area + fake.digits(8, "0123456789")
    digit_code += org_check_char(digit_code[8:])
    digit_code += uscc.calc_check_digit(digit_code)
    if uscc.is_valid(digit_code) and not is_valid_resident_id(digit_code):
        clean.append(f"事业单位统一社会信用代码：{digit_code}")
    rng.shuffle(clean)
    return clean


def _chunks(s: str, n: int) -> list[str]:
    return [s[i:i + n] for i in range(0, len(s), n)]


def _bad_check(fake: FakeData, area: str) -> str:
    rid = fake.resident_id(area=area, check_x=False)
    wrong = rid[:-1] + str((int(rid[-1]) + 4) % 10)
    assert not is_valid_resident_id(wrong)
    return wrong


# -- documents -----------------------------------------------------------------------------------


@dataclass
class Record:
    """One row of a list: labels → rendered cells."""

    cells: dict[str, str]


class Builder:
    """Builds one document of a given template and layout."""

    def __init__(self, fake: FakeData, region: Region, fmt: str, truth: Truth, filler: list[str]) -> None:
        self.fake = fake
        self.rng = fake.rng
        self.region = region
        self.fmt = fmt  # html, html-gbk, txt, csv-bom, csv-gbk
        self.gbk = fmt == "csv-gbk"
        self.truth = truth
        self.filler = filler
        self.dept = self.rng.choice(DEPARTMENTS)
        self.org = region.county + self.dept
        masking = weighted(self.rng, [("none", 55), ("policy", 25), ("mixed", 20)])
        self.p = Planter(fake, truth, region, self.gbk, masking)
        self.negatives = negative_snippets(fake, region, self.dept)

    def neg(self, n: int) -> list[str]:
        out = self.negatives[:n]
        self.negatives = self.negatives[n:]
        return out

    # list templates ---------------------------------------------------------------------------

    def list_records(self) -> tuple[str, list[str], list[Record]]:
        """A title, column labels and rows for one of the list templates."""
        rng = self.rng
        year = rng.randint(2019, 2024)
        template = rng.randrange(7)
        name_l, id_l, mob_l, plate_l = (rng.choice(NAME_LABELS[:3]), rng.choice(ID_LABELS[:4]),
                                        rng.choice(MOBILE_LABELS[:4]), rng.choice(PLATE_LABELS))
        n = rng.randint(3, 18)
        rows: list[Record] = []
        if template == 0:
            title = f"{self.region.county}{year}年城乡最低生活保障对象名单公示"
            cols = ["序号", "乡镇", name_l, id_l, "保障人口", "月保障金（元）"]
            for i in range(n):
                per = self.p.person()
                rows.append(Record({"序号": str(i + 1), "乡镇": rng.choice(("城关镇", "南溪镇", "石桥乡", "河口镇")),
                                    name_l: per.name, id_l: self.p.id_value(per.resident_id),
                                    "保障人口": str(rng.randint(1, 5)),
                                    "月保障金（元）": str(rng.randint(3, 9) * 100)}))
        elif template == 1:
            title = f"{year}年公共租赁住房配租对象公示"
            cols = ["序号", name_l, id_l, mob_l, "家庭人数", "配租房号"]
            for i in range(n):
                per = self.p.person()
                rows.append(Record({"序号": str(i + 1), name_l: per.name, id_l: self.p.id_value(per.resident_id),
                                    mob_l: self.p.mobile_value(per.mobile), "家庭人数": str(rng.randint(1, 6)),
                                    "配租房号": f"{rng.randint(1, 12)}栋{rng.randint(1, 3)}单元"
                                                f"{rng.randint(101, 1802)}"}))
        elif template == 2:
            title = f"关于{year}年度农机购置补贴资金兑付情况的公示"
            cols = ["序号", "购机者", id_l, "机具品目", "补贴金额（元）", "开户账号"]
            for i in range(n):
                per = self.p.person()
                card = self.fake.bank_card()
                rows.append(Record({"序号": str(i + 1), "购机者": per.name, id_l: self.p.id_value(per.resident_id),
                                    "机具品目": rng.choice(("轮式拖拉机", "谷物联合收割机", "插秧机", "植保无人机")),
                                    "补贴金额（元）": self.fake.amount(800, 60_000),
                                    "开户账号": card[:6] + "*" * (len(card) - 10) + card[-4:]}))
        elif template == 3:
            title = f"长期停放车辆清理公告（{year}年第{rng.randint(1, 6)}批）"
            cols = ["序号", plate_l, "车辆类型", "停放地点", "车主", mob_l]
            for i in range(n):
                per = self.p.person()
                rows.append(Record({"序号": str(i + 1), plate_l: self.p.plate_value(),
                                    "车辆类型": rng.choice(("小型轿车", "轻型货车", "二轮摩托车", "小型普通客车")),
                                    "停放地点": rng.choice(("人民路", "滨江大道", "建设路", "东风路")) + "路段",
                                    "车主": per.name[0] + "**",
                                    mob_l: self.p.mobile_value(per.mobile)}))
        elif template == 4:
            title = f"{year}年度网络预约出租汽车驾驶员证核发名单"
            cols = ["序号", name_l, "性别", id_l, plate_l, "证号"]
            for i in range(n):
                per = self.p.person()
                rows.append(Record({"序号": str(i + 1), name_l: per.name, "性别": per.sex,
                                    id_l: self.p.id_value(per.resident_id),
                                    plate_l: self.p.plate_value(kind=rng.choice(("ev_small", "normal"))),
                                    "证号": f"{self.region.area}{year}{self.fake.digits(4, '0123456789')}"}))
        elif template == 5:
            title = f"{year}年残疾人两项补贴发放名册"
            cols = ["序号", name_l, "残疾人证号", "补贴类别", "金额（元）"]
            for i in range(n):
                per = self.p.person()
                if self.p.masking == "policy":
                    cert = self.p._policy_mask_id(per.resident_id) + "11"
                else:
                    cert = self.p.disability_cert(per.resident_id)
                rows.append(Record({"序号": str(i + 1), name_l: per.name, "残疾人证号": cert,
                                    "补贴类别": rng.choice(("生活补贴", "护理补贴")),
                                    "金额（元）": str(rng.choice((80, 100, 120)))}))
        else:
            title = f"{year}年事业单位公开招聘资格复审合格人员名单"
            cols = ["序号", "准考证号", name_l, id_l, mob_l, "笔试成绩"]
            for i in range(n):
                per = self.p.person()
                rows.append(Record({"序号": str(i + 1), "准考证号": f"{year}{self.fake.digits(7, '0123456789')}",
                                    name_l: per.name, id_l: self.p.id_value(per.resident_id),
                                    mob_l: self.p.mobile_value(per.mobile),
                                    "笔试成绩": f"{rng.randint(550, 900) / 10:.1f}"}))
        if rng.random() < 0.2:
            rng.shuffle(cols)  # exports reorder columns
        return title, cols, rows

    # running-text templates -------------------------------------------------------------------

    def running_text(self) -> tuple[str, list[str]]:
        """A title and paragraphs with values in running text."""
        rng = self.rng
        year = rng.randint(2019, 2024)
        per = self.p.person()
        id_l = rng.choice(ID_LABELS)
        colon = rng.choice(("：", ":", "", " "))
        template = rng.randrange(4)
        if template == 0:
            title = f"{self.org}公告送达书（{self.region.county[0]}市监公告〔{year}〕{rng.randint(1, 90)}号）"
            paras = [f"{per.name}（{id_l}{colon}{self.p.id_value(per.resident_id)}）：",
                     f"本机关于{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日对你作出行政处罚决定，"
                     "因无法直接送达，"
                     f"现依法公告送达。自公告发布之日起经过六十日，即视为送达。",
                     f"联系人：{self.fake.name()[0]}同志，联系电话：{self.fake.landline(self.region.phone_area)}。"]
        elif template == 1:
            title = f"{self.org}行政处罚决定书"
            agent = self.p.person()
            paras = [f"当事人：{per.name}，{per.sex}，{id_l}{colon}{self.p.id_value(per.resident_id)}"
                     f"{rng.choice(('，', '', '；'))}联系电话{colon}{self.p.mobile_value(per.mobile)}。",
                     f"委托代理人：{agent.name}，{agent.sex}，公民身份号码{self.p.id_value(agent.resident_id)}{agent.sex}。",
                     f"经查，当事人驾驶{self.p.plate_value()}号"
                     f"{rng.choice(('小型轿车', '重型半挂牵引车', '轻型厢式货车'))}"
                     f"于{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日从事非法营运，违反了相关规定。"]
        elif template == 2:
            title = f"关于{self.region.county}12345热线第{rng.randint(100, 999)}号工单的答复"
            paras = [f"来电人：{per.name[0]}先生（来电号码{self.p.mobile_value(per.mobile)}）反映"
                     f"{rng.choice(('小区门口车辆乱停', '出租车拒载', '道路破损'))}问题。",
                     f"经核实，涉及车辆{self.p.plate_value()}、{self.p.plate_value()}已由执法人员现场处置。",
                     f"如有疑问请拨打{self.fake.landline(self.region.phone_area)}。"]
        else:
            title = f"{self.org}关于催告履行行政决定的公告"
            others = [self.p.person() for _ in range(rng.randint(1, 4))]
            paras = ["下列当事人未按期履行行政处罚决定，现予催告："]
            for o in others:
                if rng.random() < 0.15:
                    paras.append(f"{o.name}，{id_l}{self.p.id_value(o.resident_id)}（残疾人证号"
                                 f"{self.p.disability_cert(o.resident_id)}），手机{self.p.mobile_value(o.mobile)}；")
                else:
                    paras.append(f"{o.name}，{id_l}{colon}{self.p.id_value(o.resident_id)}，"
                                 f"手机{colon}{self.p.mobile_value(o.mobile)}；")
            if rng.random() < 0.3:  # the same person named again: a second occurrence
                o = others[0]
                paras.append(f"其中{o.name}（{self.p.id_value(o.resident_id)}）已部分履行。")
        return title, paras

    # rendering --------------------------------------------------------------------------------

    def build(self) -> bytes:
        rng = self.rng
        tabular = self.fmt.startswith("csv") or rng.random() < 0.65
        if tabular:
            title, cols, rows = self.list_records()
            paras: list[str] = []
        else:
            title, paras = self.running_text()
            cols, rows = [], []
        negs = self.neg(rng.randint(4, 10))
        filler = rng.sample(self.filler, min(len(self.filler), rng.randint(0, 3)))
        if self.fmt.startswith("csv"):
            return self._csv(cols, rows, negs)
        if self.fmt == "txt":
            return self._txt(title, cols, rows, paras, negs, filler)
        return self._html(title, cols, rows, paras, negs, filler)

    def _csv(self, cols: list[str], rows: list[Record], negs: list[str]) -> bytes:
        out = io.StringIO()
        w = csv.writer(out, lineterminator=self.rng.choice(("\r\n", "\n")))
        w.writerow(cols)
        for r in rows:
            w.writerow([r.cells.get(c, "") for c in cols])
        if self.rng.random() < 0.5:
            w.writerow(["备注"] + [negs[0]] + [""] * (len(cols) - 2))
        text = out.getvalue()
        return text.encode("gbk") if self.fmt == "csv-gbk" else ("\ufeff" + text).encode("utf-8")

    def _txt(self, title: str, cols: list[str], rows: list[Record], paras: list[str], negs: list[str],
             filler: list[str]) -> bytes:
        rng = self.rng
        lines = [title, ""]
        lines += filler[:1]
        if rows:
            layout = rng.randrange(3)
            if layout == 0:  # fixed-width columns
                lines.append("  ".join(cols))
                lines += ["  ".join(r.cells.get(c, "") for c in cols) for r in rows]
            elif layout == 1:  # tab separated
                lines.append("\t".join(cols))
                lines += ["\t".join(r.cells.get(c, "") for c in cols) for r in rows]
            else:  # key: value records
                for r in rows:
                    lines.append("　".join(f"{c}：{r.cells.get(c, '')}" for c in cols))
        lines += paras
        lines.append("")
        lines += negs
        lines += filler[1:]
        lines.append(f"{self.org}")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _html(self, title: str, cols: list[str], rows: list[Record], paras: list[str], negs: list[str],
              filler: list[str]) -> bytes:
        rng = self.rng
        gbk = self.fmt == "html-gbk"
        charset = rng.choice(("gbk", "gb2312", "GBK")) if gbk else "utf-8"
        parts = [f"<p>{self._split(f)}</p>" for f in filler[:1]]
        if rows:
            if rng.random() < 0.7:
                head = "".join(f"<th>{c}</th>" for c in cols)
                body = "\n".join("<tr>" + "".join(f"<td>{self._split(r.cells.get(c, ''))}</td>" for c in cols)
                                 + "</tr>" for r in rows)
                parts.append(f'<table class="{rng.choice(("MsoNormalTable", "table", "list"))}" border="1">'
                             f"\n<tr>{head}</tr>\n{body}\n</table>")
            else:
                parts += [f"<p>{'　'.join(f'{c}：{self._split(r.cells.get(c, chr(32)))}' for c in cols)}</p>"
                          for r in rows]
        parts += [f'<p style="text-indent:2em">{self._split(p)}</p>' for p in paras]
        parts += [f"<p>{n}</p>" for n in negs[:-3]]
        parts += [f"<p>{f}</p>" for f in filler[1:]]
        footer = "<br>".join(negs[-3:])
        page = f"""<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{title}</title>
</head>
<body>
<div class="main"><h1>{title}</h1>
<div class="content" id="zoom">
{chr(10).join(parts)}
</div>
<p align="right">{self.org}</p>
</div>
<div class="footer">{footer}</div>
</body>
</html>
"""
        return page.encode("gb18030") if gbk else page.encode("utf-8")

    def _split(self, text: str) -> str:
        """Sometimes break a cell into Word-style inline runs (the value is whole once tags go)."""
        if len(text) < 12 or self.rng.random() > 0.08:
            return text
        cut = self.rng.randint(4, len(text) - 4)
        return f'<span lang="EN-US">{text[:cut]}</span><span style="font-family:宋体">{text[cut:]}</span>'


def negative_document(fake: FakeData, region: Region, fmt: str, filler: list[str]) -> bytes:
    """A document with no personal value at all: a budget notice, a procurement result."""
    rng = fake.rng
    dept = rng.choice(DEPARTMENTS)
    negs = negative_snippets(fake, region, dept)
    title = rng.choice((f"{region.county}{dept}{rng.randint(2019, 2024)}年部门预算公开说明",
                        f"{region.county}{dept}政府采购项目中标结果公告",
                        f"{region.county}{dept}政府信息公开工作年度报告"))
    body = [title] + rng.sample(filler, min(2, len(filler))) + negs
    if fmt.startswith("csv"):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(["序号", "项目", "内容"])
        for i, line in enumerate(negs, 1):
            w.writerow([i, dept, line])
        text = out.getvalue()
        return text.encode("gbk") if fmt == "csv-gbk" else ("\ufeff" + text).encode("utf-8")
    if fmt == "txt":
        return ("\n".join(body) + "\n").encode("utf-8")
    charset = "gbk" if fmt == "html-gbk" else "utf-8"
    html = (f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head><body>\n'
            + "\n".join(f"<p>{line}</p>" for line in body) + "\n</body></html>\n")
    return html.encode("gb18030" if charset == "gbk" else "utf-8")


def load_filler() -> tuple[list[str], list[Path]]:
    """Paragraphs of the real negative reports (for realistic filler) and their paths."""
    if not REAL_NEGATIVES.is_dir():
        return ["根据《中华人民共和国政府信息公开条例》规定，现将有关情况公示如下。"], []
    paths = sorted(REAL_NEGATIVES.glob("*.txt"))
    paragraphs = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            cjk = sum("\u4e00" <= c <= "\u9fff" for c in line)
            if 20 <= len(line) <= 300 and "|" not in line and cjk > len(line) / 2 and not reference_hits(line):
                paragraphs.append(line)
    return paragraphs, paths


FORMATS: list[tuple[str, str, float]] = [
    ("html", ".html", 35), ("html-gbk", ".html", 15), ("txt", ".txt", 20), ("csv-bom", ".csv", 15),
    ("csv-gbk", ".csv", 15),
]


def generate(out_dir: str, seed: int = 1, docs: int = 300) -> dict[str, bytes]:
    """Every corpus file as path relative to ``out_dir`` → bytes (truth.json included)."""
    fake = FakeData(seed, "corpus")
    rng = fake.rng
    filler, real_paths = load_filler()
    files: dict[str, bytes] = {}
    items: list[dict[str, str]] = []
    for n in range(1, docs + 1):
        fmt_name, ext = rng.choices([(f, e) for f, e, _ in FORMATS], [w for _, _, w in FORMATS])[0]
        region = rng.choice(REGIONS)
        folder = rng.choice(("xxgk", "tzgg", "gsgg", "attach"))
        rel = f"{folder}/{fmt_name}_{n:04d}{ext}"
        truth = Truth(posixpath.join(out_dir, rel))
        if rng.random() < 0.15:
            data = negative_document(fake, region, fmt_name, filler)
        else:
            data = Builder(fake, region, fmt_name, truth, filler).build()
        files[rel] = data
        items += truth.items
    for p in real_paths:
        files[f"real-negatives/{p.name}"] = p.read_bytes()
    files["truth.json"] = dump_truth(items)
    return files


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Write a labelled evaluation corpus for leakscan.")
    parser.add_argument("out_dir", help="output folder (created; its truth.json is overwritten)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--docs", type=int, default=300, help="number of generated documents (default 300)")
    args = parser.parse_args(argv)
    files = generate(args.out_dir, args.seed, args.docs)
    out = Path(args.out_dir)
    if out.exists():
        for sub in ("xxgk", "tzgg", "gsgg", "attach", "real-negatives"):
            shutil.rmtree(out / sub, ignore_errors=True)
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    n_truth = files["truth.json"].count(b'"entity"')
    print(f"wrote {len(files) - 1} documents and {n_truth} truth items to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
