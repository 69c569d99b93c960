"""Audit history: new / persisting / fixed between runs, suppressions, the real SQLite file, and no
raw value in any output, log line or database row."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile

import pytest
from conftest import SHARED, TEST_KEY, hmac_hex

from scanner.cli import main
from scanner.store.history import MIGRATIONS, History

CHECKER = SHARED / "tools" / "check_report.py"
# Fake people (valid check characters, real segments and dates).
ID_A, ID_B, ID_C = "340823199001011236", "110101198001010037", "43010419950307002X"
MOBILE_A, MOBILE_B = "13812345678", "15056781234"
PLATE = "皖A·12345"
NAMES = ("张三丰", "李小四", "王五六")
RAW = (ID_A, ID_B, ID_C, MOBILE_A, MOBILE_B, PLATE, "皖A12345", *NAMES)


def _site(folder, *, fix_b=False, add_c=False):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"<tr><td>{NAMES[0]}</td><td>{ID_A}</td><td>{MOBILE_A}</td><td>{PLATE}</td></tr>"]
    rows.append(f"<tr><td>{NAMES[1]}</td><td>{'110101********0037' if fix_b else ID_B}</td>"
                f"<td>{MOBILE_B}</td><td></td></tr>")
    (folder / "list.html").write_text(
        "<html><head><meta charset='utf-8'><title>道路运输证注销明细</title></head><body><table>"
        "<tr><th>姓名</th><th>身份证号</th><th>联系电话</th><th>车牌号</th></tr>" + "".join(rows)
        + "</table></body></html>", encoding="utf-8")
    csv = "姓名,身份证号\n" + (f"{NAMES[2]},{ID_C}\n" if add_c else "")
    (folder / "extra.csv").write_text(csv, encoding="utf-8-sig")
    return folder


def _scan(folder, db, out, *extra):
    code = main(["scan", str(folder), "--db", str(db), "--key", TEST_KEY, "--site", "青山县", "-q",
                 "--format", "json", "--output", str(out), *extra])
    return code, json.loads(out.read_text(encoding="utf-8"))


def _checked(path):
    if CHECKER.exists():
        proc = subprocess.run([sys.executable, str(CHECKER), str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout


def test_second_audit_marks_one_fixed_one_new_rest_persisting(tmp_path):
    folder, db = tmp_path / "site", tmp_path / "history.sqlite3"
    _site(folder)
    code, first = _scan(folder, db, tmp_path / "1.json")
    assert code == 1
    _checked(tmp_path / "1.json")
    assert first["run"]["previous"] is None
    assert {f["audit"] for f in first["findings"]} == {"new"}
    assert first["fixed"] == [] and first["suppressed"] == 0

    _site(folder, fix_b=True, add_c=True)
    code, second = _scan(folder, db, tmp_path / "2.json")
    _checked(tmp_path / "2.json")
    assert second["run"]["previous"] == first["run"]["id"]
    audits = [f["audit"] for f in second["findings"]]
    assert audits.count("new") == 1 and audits.count("persisting") == len(first["findings"]) - 1
    new = next(f for f in second["findings"] if f["audit"] == "new")
    assert new["fingerprint"] == hmac_hex(ID_C) and new["source"].endswith("extra.csv")
    assert [f["fingerprint"] for f in second["fixed"]] == [hmac_hex(ID_B)]
    assert second["fixed"][0]["masked"] == "110101********0037"

    # history lists both runs; diff of the two runs says the same as the second report
    runs = History(db).runs()
    assert [r.id for r in runs] == [second["run"]["id"], first["run"]["id"]]
    assert (runs[0].new, runs[0].fixed) == (1, 1)
    out = tmp_path / "diff.json"
    assert main(["diff", first["run"]["id"], second["run"]["id"][:-1], "--db", str(db), "-q", "-o", str(out)]) == 1
    diff = json.loads(out.read_text(encoding="utf-8"))
    _checked(out)
    assert [f["fingerprint"] for f in diff["fixed"]] == [hmac_hex(ID_B)]
    assert sorted(f["audit"] for f in diff["findings"]) == sorted(audits)


def test_a_document_that_fails_proves_nothing_fixed(tmp_path):
    xlsxwriter = pytest.importorskip("xlsxwriter")
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder)
    book = xlsxwriter.Workbook(str(folder / "list.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "身份证号"])
    sheet.write_row(1, 0, [NAMES[2], ID_C])
    book.close()
    _, first = _scan(folder, db, tmp_path / "1.json")
    assert hmac_hex(ID_C) in {f["fingerprint"] for f in first["findings"]}
    (folder / "list.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)  # now unreadable
    _, second = _scan(folder, db, tmp_path / "2.json")
    doc = next(d for d in second["documents"] if d["source"].endswith("list.xlsx"))
    assert doc["status"] == "error"
    assert second["fixed"] == [] and second["unverified"] == 1


def test_removed_file_counts_as_fixed(tmp_path):
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder, add_c=True)
    _scan(folder, db, tmp_path / "1.json")
    (folder / "extra.csv").unlink()
    _, second = _scan(folder, db, tmp_path / "2.json")
    assert [f["fingerprint"] for f in second["fixed"]] == [hmac_hex(ID_C)]


def test_ignore_and_allowlist_suppress_findings(tmp_path, capsys):
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder)
    assert main(["ignore", hmac_hex(ID_A), "--db", str(db), "--key", TEST_KEY, "--reason", "依法公开的惩戒公示",
                 "--by", "审核员"]) == 0
    _, report = _scan(folder, db, tmp_path / "1.json")
    _checked(tmp_path / "1.json")
    assert report["suppressed"] == 1
    assert hmac_hex(ID_A) not in {f["fingerprint"] for f in report["findings"]}
    allow = tmp_path / "allow.txt"
    allow.write_text(f"# 白名单\n{hmac_hex(MOBILE_A)}  单位办公手机\n", encoding="utf-8")
    _, report = _scan(folder, db, tmp_path / "2.json", "--allowlist", str(allow))
    assert report["suppressed"] == 2
    assert {hmac_hex(ID_A), hmac_hex(MOBILE_A)}.isdisjoint(f["fingerprint"] for f in report["findings"])
    assert not report["fixed"]  # suppressed is not fixed
    capsys.readouterr()
    assert main(["ignore", "--list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert hmac_hex(ID_A) in listing and "审核员" in listing and "惩戒公示" in listing
    # an allowlist works without a history database too
    out = tmp_path / "3.json"
    main(["scan", str(folder), "--key", TEST_KEY, "-q", "-o", str(out), "--allowlist", str(allow)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["suppressed"] == 1
    _checked(out)


def test_ignore_needs_a_reason_and_a_valid_fingerprint(tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    assert main(["ignore", hmac_hex(ID_A), "--db", str(db), "--key", TEST_KEY]) == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["ignore", "abc", "--db", str(db), "--key", TEST_KEY, "--reason", "x"]) == 2
    assert "指纹" in capsys.readouterr().err


def test_history_needs_a_fixed_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LEAKSCAN_KEY", raising=False)
    folder = _site(tmp_path / "site")
    assert main(["scan", str(folder), "--db", str(tmp_path / "h.sqlite3"), "-q", "-o", str(tmp_path / "r.json")]) == 2
    assert "密钥" in capsys.readouterr().err


def test_runs_under_another_key_are_not_compared(tmp_path):
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder)
    _scan(folder, db, tmp_path / "1.json")
    out = tmp_path / "2.json"
    main(["scan", str(folder), "--db", str(db), "--key", "another-key", "--site", "青山县", "-q", "-o", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["run"]["previous"] is None and {f["audit"] for f in report["findings"]} == {"new"}


def test_schema_is_versioned_and_newer_files_are_refused(tmp_path, capsys):
    db = tmp_path / "h.sqlite3"
    History(db).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"runs", "documents", "findings", "fixed", "suppressions"} <= tables
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    assert main(["history", "--db", str(db)]) == 2
    assert "更新版本" in capsys.readouterr().err


def _all_text(path):
    """Everything a file holds as text (an XLSX's XML parts unzipped)."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return data.decode("utf-8", "replace")


def _db_text(db):
    with sqlite3.connect(db) as conn:
        return "\n".join(conn.iterdump())


def test_no_raw_value_in_outputs_logs_or_database(tmp_path):
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder, add_c=True)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + f"{ID_A} {MOBILE_A}".encode() + b"\n%%EOF")
    blobs = {}
    for fmt in ("json", "csv", "xlsx", "html", "sarif", "table"):
        out = tmp_path / f"r.{fmt}"
        proc = subprocess.run([sys.executable, "-m", "scanner.cli", "scan", str(folder), "--db", str(db),
                               "--key", TEST_KEY, "--format", fmt, "--output", str(out)],
                              capture_output=True, cwd=tmp_path, timeout=300, check=False)
        assert proc.returncode == 1, proc.stderr.decode()
        blobs[fmt] = _all_text(out)
        blobs[fmt + " stdout/stderr"] = proc.stdout.decode() + proc.stderr.decode()
    blobs["db"] = _db_text(db) + db.read_bytes().decode("utf-8", "replace")
    for where, blob in blobs.items():
        for raw in RAW:
            assert raw not in blob, (where, raw)
    assert "340823********1236" in blobs["json"]


def test_show_values_reaches_reports_but_never_the_database(tmp_path):
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder)
    out = tmp_path / "r.csv"
    assert main(["scan", str(folder), "--db", str(db), "--key", TEST_KEY, "--show-values", "-q",
                 "--format", "csv", "-o", str(out)]) == 1
    assert ID_A in out.read_text(encoding="utf-8-sig")
    dump = _db_text(db)
    for raw in (ID_A, ID_B, MOBILE_A):
        assert raw not in dump


def test_history_command_lists_runs(tmp_path, capsys):
    folder, db = tmp_path / "site", tmp_path / "h.sqlite3"
    _site(folder)
    _, report = _scan(folder, db, tmp_path / "1.json")
    capsys.readouterr()
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert report["run"]["id"] in out and "青山县" in out


def _report(docs, findings):
    return {"started_at": "2026-11-23T10:00:00+08:00", "finished_at": "2026-11-23T10:00:05+08:00",
            "documents": [dict(d) for d in docs], "findings": [dict(f) for f in findings]}


def _doc(source, parent=None, status="scanned", **meta):
    return {"source": source, "parent": parent, "kind": "html", "status": status, "reason": None, "findings": 0,
            **meta}


def _finding(source, value):
    return {"entity": "CN_ID_CARD", "rule": "cn-id-card", "source": source, "parent": None, "location": {},
            "masked": value[:6] + "********" + value[-4:], "fingerprint": hmac_hex(value), "exposure": "unmasked",
            "severity": "high", "confidence": 0.99, "context": "", "remediation": ""}


@pytest.mark.parametrize(("now_docs", "complete", "fixed"), [
    # the list page was checked and no longer links the attachment: withdrawn
    ([_doc("http://x/list.html")], True, True),
    # the crawl stopped at its page limit: the attachment may just not have been reached
    ([_doc("http://x/list.html")], False, False),
    # the list page itself failed this time: nothing is known
    ([_doc("http://x/list.html", status="error")], True, False),
    # the attachment answers 404 now
    ([_doc("http://x/list.html"), _doc("http://x/a.xls", "http://x/list.html", status="error", http_status=404)],
     False, True),
    # the attachment timed out: unknown
    ([_doc("http://x/list.html"), _doc("http://x/a.xls", "http://x/list.html", status="error")], True, False),
])
def test_what_proves_a_finding_fixed(tmp_path, now_docs, complete, fixed):
    history = History(tmp_path / "h.sqlite3")
    before = [_doc("http://x/list.html"), _doc("http://x/a.xls", "http://x/list.html")]
    history.record(_report(before, [_finding("http://x/a.xls", ID_A)]), site="x", command="crawl",
                   key=TEST_KEY.encode())
    report = history.record(_report(now_docs, []), site="x", command="crawl", key=TEST_KEY.encode(),
                            complete=complete)
    assert [f["fingerprint"] for f in report["fixed"]] == ([hmac_hex(ID_A)] if fixed else [])
    assert report.get("unverified", 0) == (0 if fixed else 1)
