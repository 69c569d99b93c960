"""`leakscan redact` and `leakscan scan --redact-to`: copies written, report fields, exit status."""

from __future__ import annotations

import json

from conftest import TEST_KEY

from scanner.cli import main

ID, MOBILE = "340823199001011236", "13812345678"


def _inputs(tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "list.csv").write_text(f"姓名,身份证号,电话\n张三,{ID},{MOBILE}\n", encoding="utf-8-sig")
    (folder / "clean.txt").write_text("本单位办公电话 0556-1234567。\n", encoding="utf-8")
    (folder / "old.wps").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    return folder


def test_scan_with_redact_to_writes_copies_and_reports_them(tmp_path):
    folder = _inputs(tmp_path)
    out_dir, report_path = tmp_path / "clean-copies", tmp_path / "r.json"
    code = main(["scan", str(folder), "--redact-to", str(out_dir), "--key", TEST_KEY, "-q", "-o", str(report_path)])
    assert code == 1
    copy = out_dir / "list.csv"
    assert copy.read_text(encoding="utf-8-sig") == "姓名,身份证号,电话\n张三,340823********1236,138****5678\n"
    assert (folder / "list.csv").read_text(encoding="utf-8-sig").count(ID) == 1  # the input is untouched
    report = json.loads(report_path.read_text(encoding="utf-8"))
    doc = next(d for d in report["documents"] if d["source"].endswith("list.csv"))
    assert doc["redaction"] == "done" and doc["redacted_to"] == str(copy)
    assert all(f["redacted"] for f in report["findings"])
    assert not (out_dir / "clean.txt").exists()
    # the copy scans clean
    assert main(["scan", str(out_dir), "--key", TEST_KEY, "-q", "-o", str(tmp_path / "again.json")]) == 0


def test_scan_with_redact_to_reads_clean_files_once_and_lists_archives_whose_members_leak(tmp_path, monkeypatch):
    import zipfile

    import scanner.redact as redact

    folder = _inputs(tmp_path)
    with zipfile.ZipFile(folder / "attachments.zip", "w") as z:
        z.writestr("名单.txt", f"张三 身份证号 {ID}\n")
    read_again = []
    real = redact.redact_document
    monkeypatch.setattr(redact, "redact_document", lambda doc, *a, **k: read_again.append(doc.name) or real(doc, *a, **k))
    report_path = tmp_path / "r.json"
    main(["scan", str(folder), "--redact-to", str(tmp_path / "copies"), "--key", TEST_KEY, "-q", "-o", str(report_path)])
    assert "clean.txt" not in read_again  # the scan read it completely and found nothing
    assert {"list.csv", "old.wps", "attachments.zip"} <= set(read_again)  # a file the scan could not read: again
    docs = {d["source"].rsplit("/", 1)[-1]: d for d in json.loads(report_path.read_text())["documents"]}
    # the findings are in a member; the archive is what must be handled by hand
    assert docs["attachments.zip"]["redaction"].startswith("not possible")


def test_redact_command_lists_what_it_could_not_rewrite(tmp_path, capsys):
    folder = _inputs(tmp_path)
    out = tmp_path / "r.json"
    code = main(["redact", str(folder), "--out", str(tmp_path / "copies"), "--key", TEST_KEY, "-q", "-o", str(out)])
    statuses = {d["source"].rsplit("/", 1)[-1]: d["redaction"] for d in json.loads(out.read_text())["documents"]}
    assert statuses["list.csv"] == "done" and statuses["clean.txt"] == "unchanged"
    assert statuses["old.wps"].startswith("not possible")  # a broken WPS file: listed for manual handling
    assert code == 1 and "未脱敏" in capsys.readouterr().err


def test_an_output_folder_inside_the_input_is_refused(tmp_path, capsys):
    folder = _inputs(tmp_path)
    assert main(["redact", str(folder), "--out", str(folder / "copies"), "-q"]) == 2
    assert "位于输入文件夹" in capsys.readouterr().err
    assert not (folder / "copies").exists()


def test_a_column_header_that_rules_values_out_is_honoured_when_redacting(tmp_path):
    import xlsxwriter

    folder = tmp_path / "in"
    folder.mkdir()
    book = xlsxwriter.Workbook(str(folder / "cards.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["户名", "银行卡号"])
    for row in range(1, 40):  # card numbers that happen to pass the ID check: not IDs, in this column
        sheet.write_row(row, 0, ["某某合作社", ID])
    book.close()
    out = tmp_path / "r.json"
    assert main(["scan", str(folder), "--key", TEST_KEY, "-q", "-o", str(out)]) == 0
    assert main(["redact", str(folder), "--out", str(tmp_path / "copies"), "-q", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["documents"][0]["redaction"] == "unchanged"
