"""Real published annual reports with no personal data: zero findings (../shared/real-negatives)."""

from __future__ import annotations

import pytest
from conftest import SHARED

from scanner.pipeline import Scanner
from scanner.source.files import iter_documents

REAL = SHARED / "real-negatives"
FILES = sorted(p for p in REAL.glob("*.txt")) if REAL.exists() else []


@pytest.mark.skipif(not FILES, reason="../shared/real-negatives is not present beside the repository")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_no_findings_on_real_annual_reports(detector, path):
    [doc] = list(iter_documents([str(path)]))
    [result] = Scanner(detector).process(doc)
    assert result.status == "scanned"
    assert [(f.entity, f.masked) for f in result.findings] == []


@pytest.mark.skipif(not FILES, reason="../shared/real-negatives is not present beside the repository")
def test_real_reports_as_html_page_also_clean(detector, tmp_path):
    text = FILES[0].read_text(encoding="utf-8")
    body = "".join(f"<p>{line}</p>" for line in text.splitlines())
    page = tmp_path / "report.html"
    page.write_bytes(f'<html><head><meta charset="gbk"></head><body>{body}</body></html>'.encode("gb18030"))
    [doc] = list(iter_documents([str(page)]))
    [result] = Scanner(detector).process(doc)
    assert result.status == "scanned" and result.findings == []
