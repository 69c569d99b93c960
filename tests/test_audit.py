"""`leakscan audit --config sites.toml` against a real HTTP server on 127.0.0.1: dated reports, the
history, new / persisting / fixed between two audits, exit codes for cron."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import TEST_KEY, hmac_hex

from scanner.audit import load_config
from scanner.cli import main
from scanner.errors import UsageError

pytest.importorskip("scanner.source.crawl")

ID_A, ID_B, ID_C = "340823199001011236", "110101198001010037", "43010419950307002X"
MOBILE = "13812345678"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def site(tmp_path):
    root = tmp_path / "www"
    (root / "xxgk" / "jtj").mkdir(parents=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _publish(root, *, fixed=False, added=False):
    links = '<a href="/xxgk/jtj/zx.html">从业资格证注销人员名单</a>'
    if added:
        links += '<a href="/xxgk/jtj/bt.csv">燃油补贴发放公示</a>'
    (root / "index.html").write_text(f"<html><head><meta charset='utf-8'><title>青山县政府信息公开</title></head>"
                                     f"<body>{links}</body></html>", encoding="utf-8")
    id_b = "110101********0037" if fixed else ID_B
    (root / "xxgk" / "jtj" / "zx.html").write_text(
        "<html><head><meta charset='utf-8'><title>从业资格证注销人员名单</title></head><body><table>"
        "<tr><th>姓名</th><th>身份证号</th><th>联系电话</th></tr>"
        f"<tr><td>张三</td><td>{ID_A}</td><td>{MOBILE}</td></tr>"
        f"<tr><td>李四</td><td>{id_b}</td><td></td></tr></table></body></html>", encoding="utf-8")
    if added:
        (root / "xxgk" / "jtj" / "bt.csv").write_text(f"姓名,身份证号\n王五,{ID_C}\n", encoding="utf-8-sig")


def _config(tmp_path, url):
    cfg = tmp_path / "sites.toml"
    cfg.write_text(f'''
output = "reports"
formats = ["json", "xlsx"]
fail_on = "high"
key_env = "AUDIT_KEY"
jobs = 1

[limits]
max_pages = 200
concurrency = 2

[[site]]
name = "qingshan"
title = "青山县人民政府"
url = "{url}/"
allow_private = true
[site.departments]
"/xxgk/jtj/" = "县交通运输局"
''', encoding="utf-8")
    return cfg


def _latest(folder):
    return json.loads(sorted(folder.glob("*.json"))[-1].read_text(encoding="utf-8"))


def test_two_audits_report_one_fixed_one_new_and_the_rest_persisting(site, tmp_path, monkeypatch):
    root, url = site
    monkeypatch.setenv("AUDIT_KEY", TEST_KEY)
    cfg = _config(tmp_path, url)
    _publish(root)
    assert main(["audit", "--config", str(cfg), "-q"]) == 1  # new high findings
    folder = tmp_path / "reports" / "qingshan"
    first = _latest(folder)
    assert {f["fingerprint"] for f in first["findings"]} == {hmac_hex(ID_A), hmac_hex(ID_B), hmac_hex(MOBILE)}
    page = next(d for d in first["documents"] if d["source"].endswith("zx.html"))
    assert page["department"] == "县交通运输局" and page["title"] == "从业资格证注销人员名单"
    assert len(list(folder.glob("*.xlsx"))) == 1

    _publish(root, fixed=True, added=True)
    import time

    time.sleep(1.1)  # dated report names are per second
    assert main(["audit", "--config", str(cfg), "-q"]) == 1  # the added ID is new and high
    second = _latest(folder)
    audits = sorted(f["audit"] for f in second["findings"])
    assert audits == ["new", "persisting", "persisting"]
    assert next(f for f in second["findings"] if f["audit"] == "new")["fingerprint"] == hmac_hex(ID_C)
    assert [f["fingerprint"] for f in second["fixed"]] == [hmac_hex(ID_B)]
    assert second["run"]["previous"] == first["run"]["id"]

    time.sleep(1.1)
    assert main(["audit", "--config", str(cfg), "-q"]) == 0  # nothing new since
    third = _latest(folder)
    assert {f["audit"] for f in third["findings"]} == {"persisting"} and third["fixed"] == []
    assert len(list(folder.glob("*.json"))) == 3


def test_audit_refuses_a_missing_key_and_bad_config(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    cfg = _config(tmp_path, "http://127.0.0.1:9")
    assert main(["audit", "--config", str(cfg)]) == 2
    assert "AUDIT_KEY" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[site]]\nname = "x"\nurl = "http://a/"\nmax_pagez = 3\n', encoding="utf-8")
    with pytest.raises(UsageError, match="max_pagez"):
        load_config(bad)


def test_the_example_config_in_the_repository_loads():
    from conftest import ROOT

    config = load_config(ROOT / "examples" / "sites.toml")
    assert [s.name for s in config.sites] == ["qingshan"]
    assert config.sites[0].limits["max_pages"] == 5000 and config.sites[0].limits["delay"] == 0.5
    assert config.sites[0].departments["/xxgk/jtj/"] == "县交通运输局"
