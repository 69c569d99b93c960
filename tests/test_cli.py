"""`leakscan scan` end to end: the contract checker, exit codes, errors that never stop the run,
and no raw value in any output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SHARED, TEST_KEY, hmac_hex

from scanner.cli import main

CHECKER = SHARED / "tools" / "check_report.py"
RAW_ID, RAW_MOBILE, RAW_PLATE = "340823199001011236", "13812345678", "皖A·12345"


def _site(tmp_path):
    folder = tmp_path / "upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "list.html").write_bytes(
        ("<html><head><meta charset='gb2312'><title>注销名单</title></head><body><table>"
         "<tr><th>姓名</th><th>身份证号</th><th>联系电话</th><th>车牌</th></tr>"
         f"<tr><td>张三</td><td>{RAW_ID}</td><td>{RAW_MOBILE}</td><td>{RAW_PLATE}</td></tr>"
         "</table></body></html>").encode("gb18030"))
    (folder / "sub" / "export.csv").write_bytes(f"姓名,身份证号\n李四,{RAW_ID}\n".encode("utf-8-sig"))
    (folder / "clean.txt").write_text("办公电话 0556-1234567，皖ICP备12345678号-1\n", encoding="utf-8")
    (folder / "broken.bin").write_bytes(b"\x00\x01\x02garbage" * 10)
    return folder


def _run(args, tmp_path):
    return subprocess.run([sys.executable, "-m", "scanner.cli", *args], capture_output=True, cwd=tmp_path,
                          timeout=120, check=False)


@pytest.mark.skipif(not CHECKER.exists(), reason="../shared/tools/check_report.py is not beside the repository")
def test_scan_folder_json_report_meets_contract(tmp_path):
    folder = _site(tmp_path)
    out = tmp_path / "r.json"
    proc = _run(["scan", str(folder), "--format", "json", "--output", str(out), "--key", TEST_KEY, "-q"], tmp_path)
    assert proc.returncode == 1, proc.stderr.decode()
    check = subprocess.run([sys.executable, str(CHECKER), str(out), "--key", TEST_KEY,
                            "--expect", f"CN_ID_CARD={RAW_ID}", "--expect", f"CN_MOBILE={RAW_MOBILE}",
                            "--expect", "CN_LICENSE_PLATE=皖A12345"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    docs = {d["source"]: d for d in report["documents"]}
    assert set(docs) == {str(folder / p) for p in ("broken.bin", "clean.txt", "list.html", "sub/export.csv")}
    assert docs[str(folder / "broken.bin")]["status"] == "skipped"
    assert docs[str(folder / "list.html")]["title"] == "注销名单"
    assert docs[str(folder / "clean.txt")]["findings"] == 0
    csv_finding = next(f for f in report["findings"] if f["source"].endswith("export.csv"))
    assert csv_finding["location"]["cell"] == "B2"
    assert csv_finding["fingerprint"] == hmac_hex(RAW_ID)


def test_no_raw_value_in_any_output(tmp_path):
    folder = _site(tmp_path)
    for fmt in ("json", "table"):
        proc = _run(["scan", str(folder), "--format", fmt, "--key", TEST_KEY], tmp_path)
        blob = proc.stdout.decode() + proc.stderr.decode()
        for raw in (RAW_ID, RAW_MOBILE, RAW_PLATE, "皖A12345", "张三", "李四"):
            assert raw not in blob, (fmt, raw)
        assert "340823********1236" in blob


def test_exit_codes(tmp_path):
    folder = _site(tmp_path)
    clean = folder / "clean.txt"
    assert main(["scan", str(clean), "--format", "json", "-q", "--output", str(tmp_path / "a.json")]) == 0
    assert main(["scan", str(folder), "--format", "json", "-q", "--output", str(tmp_path / "b.json")]) == 1
    # Only a low-severity plate above --fail-on high? The ID is high, so still 1; a plate-only file is 0.
    plate = tmp_path / "plate.txt"
    plate.write_text(f"车牌 {RAW_PLATE}", encoding="utf-8")
    assert main(["scan", str(plate), "--fail-on", "high", "-q", "-o", str(tmp_path / "c.json")]) == 0
    assert main(["scan", str(plate), "--fail-on", "low", "-q", "-o", str(tmp_path / "d.json")]) == 1
    proc = _run(["scan", str(folder), "--format", "pdf"], tmp_path)
    assert proc.returncode == 2
    proc = _run(["scan", str(folder), "--rules", str(tmp_path / "missing")], tmp_path)
    assert proc.returncode == 2 and "规则" in proc.stderr.decode()


def test_missing_path_is_an_error_entry_not_a_crash(tmp_path):
    out = tmp_path / "r.json"
    folder = _site(tmp_path)
    proc = _run(["scan", str(tmp_path / "nope.pdf"), str(folder), "-o", str(out), "--key", TEST_KEY, "-q"], tmp_path)
    assert proc.returncode == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    [missing] = [d for d in report["documents"] if d["source"].endswith("nope.pdf")]
    assert missing["status"] == "error" and missing["reason"]
    assert len(proc.stderr.decode().strip().splitlines()) == 1
    assert report["findings"]


def test_random_key_is_announced(tmp_path):
    out = tmp_path / "r.json"
    _run(["scan", str(_site(tmp_path)), "-o", str(out), "-q"], tmp_path)
    assert "随机" in json.loads(out.read_text(encoding="utf-8"))["key_note"]


def test_rules_commands(tmp_path):
    proc = _run(["rules", "test"], tmp_path)
    assert proc.returncode == 0, proc.stdout.decode()
    assert "全部规则示例通过" in proc.stdout.decode()
    listing = _run(["rules", "list"], tmp_path).stdout.decode()
    assert "cn-id-card" in listing and "cn-mobile" in listing and "cn-license-plate" in listing


def test_agency_rule_pack_is_tested_and_failures_exit_1(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    rule = (ROOT / "rules" / "cn" / "mobile.yaml").read_text(encoding="utf-8")
    rule = rule.replace("id: cn-mobile", "id: local-mobile-copy")
    (pack / "local.yaml").write_text(rule, encoding="utf-8")
    ok = _run(["rules", "test", str(pack)], tmp_path)
    assert "local-mobile-copy" in ok.stdout.decode()
    broken = rule.replace("match: '13812345678'", "match: '1381234567'", 1)
    (pack / "local.yaml").write_text(broken, encoding="utf-8")
    bad = _run(["rules", "test", str(pack)], tmp_path)
    assert bad.returncode == 1 and "未通过" in bad.stdout.decode()
