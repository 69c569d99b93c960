"""Write the committed fake disclosure material in ``samples/`` (deterministic).

    python tools/make_samples.py [OUT_DIR]      # default: samples/ beside tools/

The material is a fake county transport bureau site (青山县交通运输局: an invented county, invented
staff, invented people) plus exported files, planting resident IDs, mobiles and plates in the
forms real disclosure pages use, and hard negatives that look like them. ``expected.json`` lists
every planted value once per occurrence: the truth ``tools/eval.py`` scores a scan against.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import xlsxwriter  # noqa: E402
from fakedata import (  # noqa: E402
    CN_ID_CARD,
    CN_MOBILE,
    FakeData,
    Truth,
    dump_truth,
    is_valid_resident_id,
)

SEED = 20231115
COUNTY = "青山县"
BUREAU = "青山县交通运输局"
LOCAL_AREA = "340823"  # an abolished county code: IDs issued there stay valid for life
OFFICE_PHONE = "0556-5212345"

REPO = Path(__file__).resolve().parent.parent


# -- page furniture ------------------------------------------------------------------------------

FOOTER = f"""<div class="footer">
  <p>主办单位：{BUREAU}　地址：{COUNTY}文昌路88号　邮编：246700　联系电话：{OFFICE_PHONE}</p>
  <p>政务服务便民热线：12345　<a href="https://beian.miit.gov.cn/">皖ICP备12345678号-1</a>
  　皖公网安备 34082302000123号　网站标识码：3408230001</p>
</div>"""


def page(title: str, body: str, charset: str = "utf-8", crumbs: str = "信息公开") -> str:
    """A TRS-style page: header, breadcrumb, article, footer."""
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<meta name="SiteName" content="{BUREAU}">
<meta name="ColumnName" content="{crumbs}">
<meta name="ArticleTitle" content="{title}">
<title>{title}_{BUREAU}</title>
<link rel="stylesheet" href="/images/common.css">
</head>
<body>
<div class="header"><h1>{BUREAU}</h1>
<ul class="nav"><li><a href="../../index.html">首页</a></li><li><a href="../index.html">信息公开</a></li>
<li><a href="#">政务服务</a></li><li><a href="#">互动交流</a></li></ul></div>
<div class="position">当前位置：<a href="../../index.html">首页</a> &gt; <a href="../index.html">{crumbs}</a></div>
<div class="article">
<h2 class="title">{title}</h2>
<div class="info">发布机构：{BUREAU}　浏览次数：<span id="clicks">312</span></div>
<div class="TRS_Editor">
{body}
</div>
</div>
{FOOTER}
</body>
</html>
"""


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """An HTML table as Word-to-TRS pages write it."""
    head = "".join(f"<td><p align=\"center\"><strong>{h}</strong></p></td>" for h in header)
    body = "\n".join("<tr>" + "".join(f"<td><p align=\"center\">{c}</p></td>" for c in row) + "</tr>" for row in rows)
    return f'<table border="1" cellspacing="0" cellpadding="0" width="100%">\n<tr>{head}</tr>\n{body}\n</table>'


# -- the notices ---------------------------------------------------------------------------------

NOTICES: list[tuple[str, str, str]] = [
    # (path below site/xxgk/, title, date)
    ("202311/t20231115_1001.html", "关于注销部分道路运输从业人员从业资格证的公告", "2023-11-15"),
    ("202311/t20231120_1002.html", "道路运输证注销明细公示", "2023-11-20"),
    ("202312/t20231201_1003.html", "2023年度出租汽车燃油补贴发放情况公示", "2023-12-01"),
    ("202312/t20231205_1004.html", "青山县交通运输局2023年公开招聘工作人员拟录用人员公示", "2023-12-05"),
    ("202312/t20231210_1005.html", "行政处罚决定书（青交罚〔2023〕第0123号）", "2023-12-10"),
    ("202312/t20231212_1006.html", "2023年第四季度机动车驾驶培训教练车及学员信息公示", "2023-12-12"),
    ("202312/t20231218_1007.html", "道路运输从业资格考试成绩查询", "2023-12-18"),
    ("202312/t20231220_1008.html", "青山县交通运输局2023年政府信息公开工作年度报告", "2023-12-20"),
]

XLSX_NAME = "202311/P020231120398765432101.xlsx"
DOCX_NAME = "202311/P020231115601234567890.docx"
PDF_NAME = "202312/P020231210701234567890.pdf"
ZIP_NAME = "files/attachments_2023.zip"
ZIP_MEMBER = "拟录用人员名单/体检合格人员.txt"


def local_id(fake: FakeData, **kw: object) -> str:
    return fake.resident_id(area=LOCAL_AREA, **kw)  # type: ignore[arg-type]


def notice_cancel_qualification(fake: FakeData, t: Truth) -> str:
    reasons = ["本人申请注销", "超过法定从业年龄", "驾驶证被吊销", "逾期未换证", "死亡"]
    people = [fake.person(area=LOCAL_AREA) if i % 2 else fake.person() for i in range(8)]
    rows = []
    for i, p in enumerate(people, 1):
        cert = f"3408232{fake.digits(5, '0123456789')}"
        rows.append([str(i), p.name, t.id(p.resident_id), cert, reasons[i % len(reasons)]])
    first = people[0]
    body = f"""<p style="text-indent:2em">根据《道路运输从业人员管理规定》（交通运输部令2022年第38号）第四十五条规定，
经核查，下列{len(people)}名人员的道路运输从业资格证予以注销。现予公告。</p>
{table(["序号", "姓名", "身份证号", "从业资格证号", "注销原因"], rows)}
<p style="text-indent:2em">其中，{first.name}（身份证号：{t.id(first.resident_id)}）如对注销决定有异议，
可自公告之日起60日内
向{COUNTY}人民政府申请行政复议。</p>
<p style="text-indent:2em">联系人：运管股　联系电话：{OFFICE_PHONE}</p>
<p>附件：<a href="./P020231115601234567890.docx">从业资格证注销人员名单.docx</a></p>
<p align="right">{BUREAU}<br>2023年11月15日</p>"""
    return page(NOTICES[0][1], body)


def notice_cancel_transport_cert(fake: FakeData, t: Truth) -> str:
    styles = ["plain", "middot", "hyphen", "plain", "plain", "middot"]
    kinds = ["normal", "normal", "ev_small", "ev_large", "normal", "normal"]
    rows = []
    for i, (style, kind) in enumerate(zip(styles, kinds, strict=True), 1):
        p = fake.person(area=LOCAL_AREA)
        plate = fake.plate(kind, province="皖", authority="H")
        cert = f"皖交运管青字{fake.digits(6, '0123456789')}号"
        rows.append([str(i), t.plate(plate, style, kind), p.name, t.id(p.resident_id), cert, "车辆报废"])
    body = f"""<p style="text-indent:2em">根据《道路运输车辆技术管理规定》，以下车辆已办理报废手续，
其道路运输证予以注销：</p>
{table(["序号", "车牌号码", "业户名称", "身份证号", "道路运输证号", "注销原因"], rows)}
<p>附件：<a href="./P020231120398765432101.xlsx" title="道路运输证注销明细.xlsx">道路运输证注销明细.xlsx</a></p>
<p align="right">{BUREAU}<br>2023年11月20日</p>"""
    return page(NOTICES[1][1], body)


def notice_fuel_subsidy(fake: FakeData, t: Truth) -> str:
    plan = [("bullet", "normal"), ("dot", "normal"), ("space", "normal"), ("plain", "trailer"),
            ("plain", "ev_small"), ("plain", "normal")]
    rows = []
    total = 0
    for i, (style, kind) in enumerate(plan, 1):
        p = fake.person()
        card = fake.bank_card(19)
        masked_card = card[:6] + "*" * 9 + card[-4:]
        amount_cents = fake.rng.randint(150_000, 980_000)
        total += amount_cents
        plate = fake.plate(kind, province="皖", authority="H")
        rows.append([str(i), p.name[0] + "*" * (len(p.name) - 1), t.plate(plate, style, kind),
                     f"{amount_cents // 100:,}.{amount_cents % 100:02d}", masked_card])
    body = f"""<p style="text-indent:2em">根据《关于调整农村客运、出租车油价补贴政策的通知》（财建〔2016〕133号），
现将2023年度出租汽车燃油补贴发放情况公示如下：</p>
{table(["序号", "姓名", "车牌号码", "补贴金额（元）", "银行卡号"], rows)}
<p>合计：{total // 100:,}.{total % 100:02d}元。
资金已通过{COUNTY}农村商业银行代发（代发批次号：20231201100000012345）。</p>
<p>公示期：2023年12月1日至2023年12月7日。监督电话：{OFFICE_PHONE}，12345政务服务便民热线。</p>"""
    return page(NOTICES[2][1], body)


def notice_recruitment(fake: FakeData, t: Truth) -> str:
    posts = ["综合管理", "交通工程", "财务会计", "法律事务", "信息技术"]
    rows = []
    for i in range(1, 8):
        p = fake.person(area=LOCAL_AREA)
        rid = p.resident_id
        if i == 3:
            # Masked too little: the birth year stays readable.
            shown = t.add(CN_ID_CARD, rid[:10] + "****" + rid[-4:], "id:partial_year", "partial")
        elif i == 5:
            other = fake.resident_id(area="110105", check_x=True)
            shown = t.add(CN_ID_CARD, other[:10] + "******" + other[-2:], "id:partial_year", "partial")
        elif i == 6:
            shown = t.add(CN_ID_CARD, rid[:10] + "＊＊＊＊＊＊" + rid[-2:], "id:partial_fullwidth_mask", "partial")
        elif i % 2:
            shown = rid[:6] + "********" + rid[-4:]  # masked as policy requires: no finding
        else:
            shown = rid[:2] + "*" * 14 + rid[-2:]
        written = fake.rng.randint(6500, 8900) / 100
        interview = fake.rng.randint(7000, 9200) / 100
        phone = p.mobile[:3] + "****" + p.mobile[-4:]  # masked as policy requires: no finding
        rows.append([str(i), p.name, p.sex, shown, phone, posts[i % len(posts)], f"{written:.2f}", f"{interview:.2f}",
                     f"{written * 0.5 + interview * 0.5:.2f}"])
    body = f"""<p style="text-indent:2em">根据《{BUREAU}2023年公开招聘工作人员公告》，经笔试、面试、体检和考察，
现将拟录用人员名单公示如下（身份证号已按规定作隐藏处理）：</p>
{table(["序号", "姓名", "性别", "身份证号", "联系电话", "报考岗位", "笔试成绩", "面试成绩", "总成绩"], rows)}
<p>公示期为2023年12月5日至2023年12月11日（5个工作日）。如有异议，请以书面形式向{BUREAU}人事股反映。</p>
<p>监督电话：{OFFICE_PHONE}　　{COUNTY}人力资源和社会保障局监督电话：0556-5219876</p>"""
    return page(NOTICES[3][1], body)


def notice_penalty(fake: FakeData, t: Truth) -> str:
    party = fake.person(area=LOCAL_AREA)
    agent = fake.person(area="110105", birth=dt.date(1949, 12, 31))
    witness = fake.person()
    plate = fake.plate("normal", province="皖", authority="H")
    body = f"""<p>当事人：{party.name}，性别：{party.sex}，身份证号{t.id(party.resident_id)}，
住址：{COUNTY}城关镇龙山路12号，
联系电话：{t.mobile(party.mobile, "plus86")}。</p>
<p>委托代理人：{agent.name}，公民身份号码{t.id(agent.resident_id)}{agent.sex}，
联系电话{t.mobile(agent.mobile, "0086")}。</p>
<p style="text-indent:2em">经查，当事人于2023年10月8日驾驶{t.plate(plate, "middot")}号牌重型货车，
未取得道路运输经营许可，
擅自从事道路货物运输经营。以上事实有现场笔录、询问笔录（证人{witness.name}，电话{t.mobile(witness.mobile, "86dash")}）、
视频资料等证据证实。</p>
<p style="text-indent:2em">依据《中华人民共和国道路运输条例》第六十三条之规定，
决定对当事人处以罚款人民币贰万元整（¥20,000.00）。
罚款于收到本决定书之日起十五日内缴至指定银行，缴款账号：6222021308005271699（{COUNTY}非税收入专户），
逾期每日按罚款数额的3%加处罚款。</p>
<p style="text-indent:2em">如不服本决定，可在收到本决定书之日起六十日内向{COUNTY}人民政府申请行政复议，
或者在六个月内依法向
{COUNTY}人民法院提起行政诉讼。</p>
<p>附件：<a href="./P020231210701234567890.pdf">行政处罚决定书（盖章版）.pdf</a></p>
<p align="right">{BUREAU}<br>2023年12月10日</p>"""
    return page(NOTICES[4][1], body)


def notice_gbk_learners(fake: FakeData, t: Truth) -> str:
    rows = []
    mobile_styles = ["dash_344", "plain", "space_344", "plain"]
    for i in range(1, 5):
        p = fake.person()
        coach = fake.plate("learner", province="皖", authority="H")
        rows.append([str(i), p.name, t.id(p.resident_id, "hyphen_684" if i == 2 else "plain"),
                     t.mobile(p.mobile, mobile_styles[i - 1]), t.plate(coach, kind="learner"), "C1"])
    body = f"""<p style="text-indent:2em">根据《机动车驾驶员培训管理规定》，
现将{COUNTY}安达驾校2023年第四季度教练车及学员信息公示如下：</p>
{table(["序号", "学员姓名", "身份证号", "联系电话", "教练车号牌", "准驾车型"], rows)}
<p>驾校地址：{COUNTY}经济开发区纬二路6号，统一社会信用代码：{fake.uscc(LOCAL_AREA)}，投诉电话：0556-5213366。</p>"""
    return page(NOTICES[5][1], body, charset="gbk")


def notice_attributes(fake: FakeData, t: Truth) -> str:
    a, b, c = fake.person(), fake.person(area=LOCAL_AREA), fake.person()
    pa = fake.plate("normal", province="皖", authority="H")
    pc = fake.plate("ev_small", province="皖", authority="H")
    records = [
        {"xm": b.name, "sfzh": t.id(b.resident_id), "lxdh": t.mobile(b.mobile), "cph": t.plate(pc, kind="ev_small"),
         "cj": "92"},
        {"xm": c.name, "sfzh": t.id(c.resident_id, "lower_x") if c.resident_id.endswith("X") else t.id(c.resident_id),
         "lxdh": t.mobile(c.mobile), "cph": "", "cj": "88"},
    ]
    data = json.dumps(records, ensure_ascii=False, indent=1)
    body = f"""<p>请输入姓名和证件号码查询考试成绩：</p>
<form id="query"><input name="xm" placeholder="姓名">
<input name="sfzh" placeholder="身份证号"><button>查询</button></form>
<table class="result">
<tr><th>姓名</th><th>科目</th><th>成绩</th></tr>
<tr><td><span title="身份证号：{t.id(a.resident_id)}">{a.name}</span></td><td>道路旅客运输</td><td>90</td></tr>
<tr><td><a href="#" title="联系电话 {t.mobile(a.mobile)}">联系考生</a></td><td>道路货物运输</td>
<td><span title="{t.plate(pa)}">车辆</span></td></tr>
</table>
<script type="text/javascript">
var scoreData = {data};
function show(i) {{ document.getElementById("query").innerHTML = scoreData[i].xm + " " + scoreData[i].cj; }}
</script>"""
    return page(NOTICES[6][1], body, crumbs="办事服务")


def notice_negatives(fake: FakeData) -> str:
    uscc = fake.uscc(LOCAL_AREA)
    card = fake.bank_card(19)
    voucher = "2023122010" + fake.digits(10, "0123456789")
    bad_check = _bad_check_id(fake)
    rows = [
        ["主动公开政府信息数（条）", "138", "156", "+13.0%"],
        ["依申请公开受理数（件）", "12", "9", "-25.0%"],
        ["行政许可办理（件）", "13,812", "15,023", "+8.8%"],
        ["行政处罚（件）", "186", "199", "+7.0%"],
        ["罚没款金额（元）", "1,386,500.00", "1,592,300.00", "+14.8%"],
    ]
    body = f"""<p style="text-indent:2em">本报告根据《中华人民共和国政府信息公开条例》（国务院令第711号）和
《国务院办公厅政府信息与政务公开办公室关于印发〈中华人民共和国政府信息公开工作年度报告格式〉的通知》
（国办公开办函〔2021〕30号）要求编制。本报告中所列数据的统计期限自2023年1月1日起至2023年12月31日止。
本报告电子版可在{BUREAU}门户网站（网站标识码：3408230001）下载。如对本报告有任何疑问，请与{BUREAU}办公室联系
（地址：{COUNTY}文昌路88号，邮编：246700，电话：{OFFICE_PHONE}，传真：(0556)5212346）。</p>
<p style="text-indent:2em">一、总体情况。2023年，
我局制发规范性文件《{COUNTY}农村公路养护管理办法》（青交〔2023〕15号）、
《关于进一步规范网络预约出租汽车经营服务的通知》（青交运〔2023〕8号），全年共受理12345热线工单186件，
办结率100%。推进{COUNTY}云岭景区（国家AAAA级旅游景区）旅游公路建设，学习借鉴云南省A级景区交通配套经验，
对接粤港澳大湾区物流通道，G206国道K123+500至K131+200段改造完成。京A、沪A等号段外地车辆通行情况
纳入统计。</p>
{table(["指标", "2022年", "2023年", "同比"], rows)}
<p>本局统一社会信用代码：{uscc}。办公经费专户：{card}（{COUNTY}农商行营业部）。
政府采购合同编号：QSCG-2023-0815，电子缴款凭证号：{voucher}，档案编号：{bad_check}。</p>
<p>交通运输服务监督电话：12328　客服热线：400-820-8820　统计时间：2023-12-31 23:59:59</p>"""
    return page(NOTICES[7][1], body)


def _bad_check_id(fake: FakeData) -> str:
    """An 18-digit archive number with an ID's shape and a wrong check character."""
    rid = fake.resident_id(area=LOCAL_AREA, check_x=False)
    wrong = str((int(rid[-1]) + 3) % 10)
    assert not is_valid_resident_id(rid[:-1] + wrong)
    return rid[:-1] + wrong


def list_page(index: int, pages: int, entries: list[tuple[str, str, str]]) -> str:
    items = "\n".join(f'<li><a href="./{path}" target="_blank" title="{title}">{title}</a><span>{date}</span></li>'
                      for path, title, date in entries)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>信息公开_{BUREAU}</title></head>
<body>
<div class="header"><h1>{BUREAU}</h1></div>
<div class="position">当前位置：<a href="../index.html">首页</a> &gt; 信息公开</div>
<ul class="list">
{items}
</ul>
<div class="page"><script type="text/javascript">createPageHTML({pages}, {index}, "index", "html");</script></div>
{FOOTER}
</body>
</html>
"""


def home_page() -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{BUREAU}</title></head>
<body>
<div class="header"><h1>{BUREAU}</h1>
<ul class="nav"><li><a href="index.html">首页</a></li><li><a href="xxgk/index.html">信息公开</a></li></ul></div>
<div class="news"><h3>通知公告</h3><ul>
{"".join(f'<li><a href="xxgk/{path}">{title}</a><span>{date}</span></li>{chr(10)}'
         for path, title, date in NOTICES[:4])}</ul>
<p><a href="xxgk/index.html">更多&gt;&gt;</a></p></div>
{FOOTER}
</body>
</html>
"""


# -- attachments and exported files --------------------------------------------------------------


def xlsx_bytes(fake: FakeData, t: Truth) -> bytes:
    """道路运输证注销明细: an ID column of text, mobiles stored as numbers, one ID stored as a number."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    wb.set_properties({"title": "道路运输证注销明细", "author": BUREAU, "created": dt.datetime(2023, 11, 20, 9, 0, 0)})
    ws = wb.add_worksheet("注销明细")
    bold = wb.add_format({"bold": True})
    header = ["序号", "业户名称", "身份证号", "联系电话", "车牌号码", "注销日期"]
    ws.write_row(0, 0, header, bold)
    for r in range(1, 6):
        p = fake.person(area=LOCAL_AREA)
        plate = fake.plate("normal", province="皖", authority="H")
        ws.write_number(r, 0, r)
        ws.write_string(r, 1, p.name)
        if r == 4:
            # Typed in as a number: Excel keeps 15 significant digits, the last three become zeros.
            rid = p.resident_id
            while int(rid[15]) >= 5:  # so rounding to 15 digits equals truncation
                p = fake.person(area=LOCAL_AREA)
                rid = p.resident_id
            ws.write_number(r, 2, float(rid[:15] + "000"))
            t.add(CN_ID_CARD, rid[:15] + "***", "id:excel_number", "partial")
        else:
            ws.write_string(r, 2, t.id(p.resident_id))
        ws.write_number(r, 3, int(p.mobile))
        t.add(CN_MOBILE, p.mobile, "mobile:excel_number")
        ws.write_string(r, 4, t.plate(plate))
        ws.write_string(r, 5, f"2023-11-{r + 10:02d}")
    ws.set_column(1, 5, 20)
    wb.close()
    return buf.getvalue()


def pdf_bytes(fake: FakeData, t: Truth) -> bytes:
    """行政处罚决定书 as a PDF (reportlab, CID font, reproducible with invariant=1): running text and a table."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    party = fake.person(area=LOCAL_AREA)
    plate = fake.plate("ev_small", province="皖", authority="H")
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.setTitle("行政处罚决定书")
    c.setFont("STSong-Light", 16)
    c.drawCentredString(297, 780, f"{BUREAU}行政处罚决定书")
    c.setFont("STSong-Light", 11)
    c.drawCentredString(297, 758, "青交罚〔2023〕第0124号")
    lines = [
        f"当事人：{party.name}　性别：{party.sex}",
        f"身份证号：{t.id(party.resident_id)}　联系电话：{t.mobile(party.mobile, 'dash_344')}",
        f"住址：{COUNTY}城关镇文昌路18号",
        f"经查，当事人驾驶{t.plate(plate, 'middot', 'ev_small')}号小型新能源客车，未取得网络预约出租汽车运输证，",
        "擅自从事网约车经营。依据《网络预约出租汽车经营服务管理暂行办法》第三十四条，决定处以罚款人民币",
        "壹万元整（¥10,000.00）。",
    ]
    y = 730
    for line in lines:
        c.drawString(60, y, line)
        y -= 20
    header = ["序号", "姓名", "身份证号", "联系电话", "车牌号码"]
    xs = [60, 100, 160, 320, 430, 530]
    y -= 10
    rows: list[list[str]] = [header]
    for i in range(1, 4):
        p = fake.person()
        rows.append([str(i), p.name, t.id(p.resident_id), t.mobile(p.mobile),
                     t.plate(fake.plate("normal", province="皖", authority="H"))])
    for row in rows:
        c.line(xs[0], y + 14, xs[-1], y + 14)
        for x, cell in zip(xs, row, strict=False):
            c.drawString(x + 4, y, cell)
        y -= 20
    c.line(xs[0], y + 14, xs[-1], y + 14)
    for x in xs:
        c.line(x, y + 14, x, y + 14 + 20 * len(rows))
    c.drawString(60, y - 20, f"{BUREAU}（印章）　2023年12月10日　联系电话：{OFFICE_PHONE}")
    c.showPage()
    c.save()
    return buf.getvalue()


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _zip(members: list[tuple[str, bytes]], gbk_names: bool = False) -> bytes:
    """A zip with fixed timestamps; ``gbk_names`` writes member names in GBK without the UTF-8 flag,
    as Windows archivers do."""
    import zipfile

    class GbkInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 (zipfile's name)
            return self.filename.encode("gbk"), self.flag_bits

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = (GbkInfo if gbk_names else zipfile.ZipInfo)(name, date_time=(2023, 12, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def docx_bytes(fake: FakeData, t: Truth) -> bytes:
    """从业资格证注销人员名单 as a Word file: a table, and an ID split over runs as Word saves it."""
    def para(*runs: str) -> str:
        return "<w:p>" + "".join(f'<w:r><w:t xml:space="preserve">{r}</w:t></w:r>' for r in runs) + "</w:p>"

    def cell(text: str) -> str:
        return f'<w:tc><w:tcPr><w:tcW w:w="1800" w:type="dxa"/></w:tcPr>{para(text)}</w:tc>'

    rows = ["<w:tr>" + "".join(cell(h) for h in ("序号", "姓名", "身份证号", "手机号码", "注销原因")) + "</w:tr>"]
    for i in range(1, 5):
        p = fake.person(area=LOCAL_AREA)
        rows.append("<w:tr>" + "".join(cell(v) for v in (
            str(i), p.name, t.id(p.resident_id, "fullwidth" if i == 3 else "plain"), t.mobile(p.mobile),
            "本人申请注销")) + "</w:tr>")
    split = fake.person(check_x=True)
    rid = t.id(split.resident_id, "lower_x")
    body = (para(f"{BUREAU}关于注销道路运输从业资格证的通知")
            + f"<w:tbl><w:tblPr><w:tblW w:w=\"9000\" w:type=\"dxa\"/></w:tblPr>{''.join(rows)}</w:tbl>"
            + "<w:p><w:r><w:t xml:space=\"preserve\">另：" + split.name + "，身份证号</w:t></w:r>"
            + f"<w:r><w:t>{rid[:10]}</w:t></w:r><w:proofErr w:type=\"spellStart\"/>"
            + f"<w:r><w:rPr><w:lang w:val=\"en-US\"/></w:rPr><w:t>{rid[10:]}</w:t></w:r>"
            + "<w:proofErr w:type=\"spellEnd\"/><w:r><w:t>，已于2023年11月死亡。</w:t></w:r></w:p>"
            + para(f"联系电话：{OFFICE_PHONE}"))
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {_W}><w:body>{body}'
                "<w:sectPr/></w:body></w:document>")
    content_types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                     '<Default Extension="rels" '
                     'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                     '<Default Extension="xml" ContentType="application/xml"/>'
                     '<Override PartName="/word/document.xml" ContentType="application/'
                     'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>')
    return _zip([("[Content_Types].xml", content_types.encode()), ("_rels/.rels", rels.encode()),
                 ("word/document.xml", document.encode())])


def zip_bytes(fake: FakeData, t: Truth) -> bytes:
    """An archive as a Windows archiver writes it: a GBK member name, a GBK text member."""
    lines = ["序号 姓名 身份证号 联系电话"]
    for i in range(1, 4):
        p = fake.person()
        lines.append(f"{i} {p.name} {t.id(p.resident_id)} {t.mobile(p.mobile, 'space_344')}")
    return _zip([(ZIP_MEMBER, ("\r\n".join(lines) + "\r\n").encode("gbk"))], gbk_names=True)


def export_txt(fake: FakeData, t: Truth) -> str:
    """A case-system export pasted into a text file: the awkward spellings."""
    p = [fake.person(check_x=True) if i in (1, 6) else fake.person() for i in range(10)]
    old = fake.old_resident_id(male=True)
    disabled = fake.resident_id(check_x=False)
    # 残疾人证号 = the holder's ID + category (1–7) + level (1–4): the ID inside it is the leak.
    category, level = fake.rng.randint(1, 7), fake.rng.randint(1, 4)
    disabled_no = t.add(CN_ID_CARD, disabled, "id:disability_cert") + f"{category}{level}"
    ev = fake.plate("ev_large", province="皖", authority="H")
    police = fake.plate("police", province="皖", authority="H")
    trailer = fake.plate("trailer", province="皖", authority="H")
    plate_space = fake.plate("normal", province="皖", authority="A")
    lines = [
        f"{BUREAU} 执法案件当事人信息导出（2023-12-15 16:20:07）",
        "================================================================",
        f"1. 姓名：{p[0].name}　身份证号：{t.id(p[0].resident_id, 'fullwidth')}"
        f"　手机：{t.mobile(p[0].mobile, 'fullwidth')}",
        f"2. 姓名：{p[1].name}　身份证号：{t.id(p[1].resident_id, 'times_x')}"
        f"　手机：{t.mobile(p[1].mobile, 'plus86_space')}",
        f"3. 姓名：{p[2].name}　身份证号：{t.id(p[2].resident_id, 'space_684')}"
        f"　手机：{t.mobile(p[2].mobile, 'dash_344')}",
        f"4. 姓名：{p[3].name}　身份证号：{t.id(p[3].resident_id, 'space_44442')}"
        f"　手机：{t.mobile(p[3].mobile, 'space_344')}",
        f"5. 姓名：{p[4].name}　身份证号：{t.add(CN_ID_CARD, old, 'id:old15')}　手机：{t.mobile(p[4].mobile)}",
        f"6. 姓名：{p[5].name}　残疾人证号：{disabled_no}　手机：{t.mobile(p[5].mobile, '0086')}",
        f"7. 姓名：{p[6].name}　身份证号码{t.id(p[6].resident_id, 'lower_x')}，电话{t.mobile(p[6].mobile)}，"
        f"车辆{t.plate(ev, kind='ev_large')}",
        f"8. 姓名：{p[7].name}　车牌号{t.plate(plate_space, 'space')}　挂车{t.plate(trailer, kind='trailer')}",
        f"9. 协查车辆：{t.plate(police, kind='police')}（{COUNTY}公安局交警大队）",
        "",
        f"办案机构：{BUREAU}执法大队　电话：0556-5217788　案卷编号：青交执〔2023〕0456号",
        f"罚款缴纳账号：{fake.bank_card(19)}　缴款识别码：{fake.digits(20, '3')}",
    ]
    return "\n".join(lines) + "\n"


def subsidy_gbk_csv(fake: FakeData, t: Truth) -> bytes:
    """GBK CSV export with header 姓名,身份证号,联系电话,车牌号码 (separators GBK can encode)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["姓名", "身份证号", "联系电话", "车牌号码"])
    plan = [("lower_x", "space_344", "middot"), ("plain", "dash_344", "hyphen"), ("plain", "plain", "plain"),
            ("old15", "plain", "ev_small"), ("plain", "plus86", "space")]
    for id_style, mobile_style, plate_style in plan:
        want_x = id_style == "lower_x"
        p = fake.person(check_x=True) if want_x else fake.person()
        if id_style == "old15":
            rid = t.add(CN_ID_CARD, fake.old_resident_id(male=p.male), "id:old15")
        else:
            rid = t.id(p.resident_id, id_style)
        kind = "ev_small" if plate_style == "ev_small" else "normal"
        plate = fake.plate(kind, province="皖", authority="H")
        w.writerow([p.name, rid, t.mobile(p.mobile, mobile_style),
                    t.plate(plate, "plain" if plate_style == "ev_small" else plate_style, kind)])
    w.writerow(["合计", "", "", "5辆"])
    return out.getvalue().encode("gbk")


def owners_bom_csv(fake: FakeData, t: Truth) -> bytes:
    """UTF-8-with-BOM CSV as Excel saves it, including ="…" and tab tricks that keep IDs as text."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["序号", "车主姓名", "身份证号码", "手机号码", "号牌号码", "车辆类型", "备注"])
    for i in range(1, 7):
        p = fake.person(area=LOCAL_AREA if i % 2 else None)
        kind = ["normal", "ev_small", "normal", "trailer", "ev_large", "normal"][i - 1]
        plate = fake.plate(kind, province=fake.rng.choice("皖苏浙赣鄂"))
        if i == 2:
            rid = '="' + t.id(p.resident_id) + '"'
        elif i == 3:
            rid = "\t" + t.id(p.resident_id)
        elif i == 5:
            rid = "'" + t.id(p.resident_id)
        else:
            rid = t.id(p.resident_id)
        style = "bullet" if i == 1 else "plain"
        w.writerow([i, p.name, rid, t.mobile(p.mobile), t.plate(plate, style, kind),
                    {"normal": "小型普通客车", "ev_small": "小型新能源客车", "trailer": "重型半挂车",
                     "ev_large": "大型新能源客车"}[kind],
                    f"开户行账号{fake.bank_card(16)}" if i == 6 else ""])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


README_FILES: list[tuple[str, str]] = [
    ('`site/index.html`',
     '虚构县交通运输局首页 / home page of the fake bureau'),
    ('`site/xxgk/index.html`, `index_1.html`',
     'TRS 风格信息公开列表，`createPageHTML` 分页 / TRS-style list with script paging'),
    ('`site/xxgk/202311/t20231115_1001.html`',
     '从业资格证注销人员名单，身份证号完整公开 / full IDs in a table'),
    ('`site/xxgk/202311/t20231120_1002.html`',
     '道路运输证注销明细：车牌、业户、身份证号 / plates, owners, IDs'),
    ('`site/xxgk/202311/P020231120398765432101.xlsx`',
     '附件：身份证号文本列、手机号存为数字、一个身份证号存为数字（仅剩15位有效数字）/ xlsx attachment'),
    ('`site/xxgk/202312/t20231201_1003.html`',
     '燃油补贴发放公示：车牌（多种分隔符）、银行卡号已部分隐藏 / plates with separators'),
    ('`site/xxgk/202312/t20231205_1004.html`',
     '招聘拟录用人员公示：身份证号按规定隐藏（无问题）及隐藏不足（出生年份可见）/ policy-masked and under-masked IDs'),
    ('`site/xxgk/202312/t20231210_1005.html`',
     '行政处罚决定书：正文中的身份证号、带国家码的手机号 / IDs and +86 mobiles in running text'),
    ('`site/xxgk/202312/t20231212_1006.html`',
     'GBK 编码页面：学员身份证号、手机号、教练车“学”字号牌 / GBK page'),
    ('`site/xxgk/202312/t20231218_1007.html`',
     '属性（title）与脚本 JSON 中的个人信息 / values in attributes and script JSON'),
    ('`site/xxgk/202312/t20231220_1008.html`',
     '纯干扰项：座机、热线、备案号、信用代码、银行卡号、文号、金额 / hard negatives only'),
    ('`site/xxgk/202311/P020231115601234567890.docx`',
     '附件：Word 表格中的身份证号，另有一个身份证号被拆在多个文字块（run）中 / '
     'docx with a table and an ID split over runs'),
    ('`site/xxgk/202312/P020231210701234567890.pdf`',
     '附件：行政处罚决定书 PDF，正文与表格 / PDF with running text and a table'),
    ('`files/attachments_2023.zip`',
     '压缩包，成员名为 GBK 编码（无 UTF-8 标志）的文本文件 / zip with a GBK-named member'),
    ('`files/export_cases.txt`',
     '文本导出：全角数字、小写x、×、分组空格、残疾人证号、15位旧身份证号、+86/0086 / awkward spellings'),
    ('`files/subsidy_gbk.csv`',
     'GBK 编码 CSV，表头 姓名,身份证号,联系电话,车牌号码 / GBK CSV'),
    ('`files/owners_utf8bom.csv`',
     '带 BOM 的 UTF-8 CSV，含 `="…"`、制表符、单引号前缀 / UTF-8 BOM CSV'),
]

README_TEMPLATE = """# samples — 演示与测试用虚构材料 / fake material for demos and tests

本目录全部内容由 `python tools/make_samples.py` 生成，**所有人员、号码均为虚构**（青山县为虚构县名，
身份证号、手机号、车牌号由随机数生成，仅校验位等格式正确），不对应任何真实个人。

Everything here is generated by `python tools/make_samples.py`. **All people and numbers are fake**
(青山县 is an invented county; IDs, mobiles and plates are random values with valid check characters).

{FILE_TABLE}

标准答案（每处植入值一条）在 `tests/fixtures/samples_expected.json`，放在本目录之外，演示扫描不会报告它。
The truth (one entry per planted occurrence) is `tests/fixtures/samples_expected.json`, kept outside this
folder so that a demo scan does not report it.
"""


def readme() -> str:
    """samples/README.md: what each file is (Chinese + English) and that all people are fake."""
    table = "| 路径 / path | 内容 / content |\n|---|---|\n" + "".join(f"| {p} | {c} |\n" for p, c in README_FILES)
    return README_TEMPLATE.replace("{FILE_TABLE}\n", table)


def build() -> dict[str, bytes]:
    """Every file of ``samples/`` as relative path → bytes."""
    fake = FakeData(SEED, "samples")
    files: dict[str, bytes] = {}
    truths: list[Truth] = []

    def emit(rel: str, maker, encoding: str = "utf-8") -> None:  # type: ignore[no-untyped-def]
        t = Truth("samples/" + rel)
        content = maker(fake, t)
        files[rel] = content if isinstance(content, bytes) else content.encode(encoding)
        truths.append(t)

    makers = [notice_cancel_qualification, notice_cancel_transport_cert, notice_fuel_subsidy, notice_recruitment,
              notice_penalty, notice_gbk_learners, notice_attributes]
    for (path, _title, _date), maker in zip(NOTICES, makers, strict=False):
        emit("site/xxgk/" + path, maker, "gb18030" if maker is notice_gbk_learners else "utf-8")
    files["site/xxgk/" + NOTICES[7][0]] = notice_negatives(fake).encode("utf-8")
    emit("site/xxgk/" + XLSX_NAME, xlsx_bytes)
    emit("files/export_cases.txt", export_txt)
    emit("files/subsidy_gbk.csv", subsidy_gbk_csv)
    emit("files/owners_utf8bom.csv", owners_bom_csv)
    # Later additions draw from their own streams so earlier files keep their values.
    for offset, (rel, maker) in enumerate([("site/xxgk/" + DOCX_NAME, docx_bytes), ("site/xxgk/" + PDF_NAME, pdf_bytes),
                                           (ZIP_NAME, zip_bytes)], 1):
        fake = FakeData(SEED + offset, "samples")
        t = Truth("samples/" + rel + ("!/" + ZIP_MEMBER if maker is zip_bytes else ""))
        files[rel] = maker(fake, t)
        truths.append(t)
    newest_first = sorted(NOTICES, key=lambda n: n[2], reverse=True)
    files["site/xxgk/index.html"] = list_page(0, 2, newest_first[:5]).encode("utf-8")
    files["site/xxgk/index_1.html"] = list_page(1, 2, newest_first[5:]).encode("utf-8")
    files["site/index.html"] = home_page().encode("utf-8")
    files["README.md"] = readme().encode("utf-8")

    items = [item for t in sorted(truths, key=lambda t: t.source) for item in t.items]
    files[TRUTH_KEY] = dump_truth(items)
    return dict(sorted(files.items()))


TRUTH_KEY = "expected.json"


def write(out: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` below ``out``."""
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "samples", help="output folder (default samples/)")
    parser.add_argument("--truth", type=Path, default=REPO / "tests" / "fixtures" / "samples_expected.json",
                        help="where the truth file goes (kept out of samples/ so a demo scan does not report it)")
    args = parser.parse_args(argv)
    files = build()
    truth = files.pop(TRUTH_KEY)
    args.truth.parent.mkdir(parents=True, exist_ok=True)
    args.truth.write_bytes(truth)
    write(args.out, files)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
