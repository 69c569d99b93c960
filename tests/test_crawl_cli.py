"""`leakscan crawl` end to end against the fake county site on 127.0.0.1: the report contract, every
planted value found, faults reported, shared attachments with all their parents, and a crawl killed
with SIGKILL that resumes to the same report without fetching pages twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ROOT, SHARED, TEST_KEY, hmac_hex

from scanner.cli import main
from tests.crawlsite import build_site, serve_site

CHECKER = SHARED / "tools" / "check_report.py"
RETRIED = {"/faults/flaky.html", "/faults/busy.html", "/faults/broken.html", "/faults/slow.html", "/robots.txt"}


def _args(url, state, out, *extra):
    return ["crawl", url + "/index.html", "--allow-private", "--timeout", "0.5", "--key", TEST_KEY, "-q",
            "--state", str(state), "--format", "json", "--output", str(out), "--concurrency", "4", "--per-host", "4",
            "--max-size", "1", *extra]


def _rel(url):
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "") if parts.hostname == "127.0.0.1" else url


def _comparable(report):
    """The parts of a report that must not depend on timing (the calendar trap's URL does)."""
    def keep(source):
        return "calendar" not in source

    docs = sorted((_rel(d["source"]), d["status"], d["findings"]) for d in report["documents"] if keep(d["source"]))
    finds = Counter((_rel(f["source"]), f["fingerprint"], json.dumps(f["location"], sort_keys=True))
                    for f in report["findings"] if keep(f["source"]))
    return docs, finds


@pytest.fixture(scope="module")
def site_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    return root, build_site(root, articles=24, per_page=6, hanweb_records=60)


def test_crawl_report_meets_the_contract_and_finds_every_planted_value(site_root, tmp_path):
    root, spec = site_root
    out = tmp_path / "r.json"
    with serve_site(root, slow=1.5) as site:
        code = main(_args(site.url, tmp_path / "state.sqlite3", out, "--jobs", "2"))
    assert code == 1
    if CHECKER.exists():
        check = subprocess.run([sys.executable, str(CHECKER), str(out)], capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    docs = {_rel(d["source"]): d for d in report["documents"]}
    assert set(spec.documents) <= set(docs), set(spec.documents) - set(docs)
    for path, (status, _reason) in spec.faults.items():
        if path in docs:  # private-target faults are fetched here: --allow-private opens them all
            assert docs[path]["status"] in (status, "error"), path
    found = {f["fingerprint"] for f in report["findings"]}
    missing = [v for v in spec.values if hmac_hex(v) not in found]
    assert not missing, f"{len(missing)} of {len(spec.values)} planted values missed"
    for attachment, pages in spec.linked_from.items():
        if len(pages) > 1:
            assert sorted(map(_rel, docs[attachment]["parents"])) == sorted(pages)


def test_sigkill_then_resume_gives_the_uninterrupted_report_without_refetching(site_root, tmp_path):
    root, _ = site_root
    with serve_site(root, slow=1.5) as site:
        main(_args(site.url, tmp_path / "clean.sqlite3", tmp_path / "clean.json", "--jobs", "1"))
    expected = _comparable(json.loads((tmp_path / "clean.json").read_text(encoding="utf-8")))

    state, out = tmp_path / "killed.sqlite3", tmp_path / "resumed.json"
    with serve_site(root, slow=1.5) as site:
        # two workers: their findings come back packed, are stored so and must come back from the state
        proc = subprocess.Popen([sys.executable, "-m", "scanner.cli", *_args(site.url, state, out, "--jobs", "2")],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 60
        # the crawl, the workers' fork server, its resource tracker and the workers
        while (len(site.log) < 40 or len(_session_left(proc.pid)) < 5) and time.monotonic() < deadline \
                and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the crawl finished before it could be killed"
        assert len(_session_left(proc.pid)) >= 5
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not _session_left(proc.pid, seconds=10), "the killed crawl's worker processes outlived it"
        first = [(m, t) for m, t, _, _ in site.log]
        assert not out.exists()
        assert main(_args(site.url, state, out, "--jobs", "2", "--resume")) == 1
        second = [(m, t) for m, t, _, _ in site.log][len(first):]
    assert _comparable(json.loads(out.read_text(encoding="utf-8"))) == expected
    twice = {r for r in set(first) & set(second) if r[1] not in RETRIED and "calendar" not in r[1]}
    assert len(twice) <= 4, sorted(twice)  # at most the requests in flight at the kill


def _session_left(session, seconds=0.0):
    """Process ids left in ``session`` (the crawl's and every process it started: the workers'
    fork server and the workers), waiting up to ``seconds`` for none to be left."""
    deadline = time.monotonic() + seconds
    while True:
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == session and fields[0] != "Z":  # field 6 of stat, after the name
                left.append(int(stat.parent.name))
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def test_a_crawl_stopped_by_its_page_limit_says_so_and_404s_carry_their_status(site_root, tmp_path, capsys):
    root, spec = site_root
    out = tmp_path / "r.json"
    with serve_site(root, slow=1.5) as site:
        main(_args(site.url, tmp_path / "s.sqlite3", out, "--jobs", "1", "--max-pages", "15"))
    report = json.loads(out.read_text(encoding="utf-8"))
    assert "已达到抓取上限" in report["incomplete"]
    assert "已达到抓取上限" in capsys.readouterr().err
    with serve_site(root, slow=1.5) as site:
        main(_args(site.url, tmp_path / "t.sqlite3", out, "--jobs", "1"))
    report = json.loads(out.read_text(encoding="utf-8"))
    assert "incomplete" not in report
    missing = [d for d in report["documents"] if d.get("reason", "") and "HTTP 404" in d["reason"]]
    assert missing and all(d["http_status"] == 404 for d in missing)


def test_show_values_never_reaches_the_crawl_state_or_the_history(site_root, tmp_path):
    import sqlite3

    root, spec = site_root
    state, db, out = tmp_path / "s.sqlite3", tmp_path / "h.sqlite3", tmp_path / "r.csv"
    with serve_site(root, slow=1.5) as site:
        args = _args(site.url, state, out, "--jobs", "2", "--show-values", "--db", str(db))
        args[args.index("--format") + 1] = "csv"
        main(args)
    shown = out.read_text(encoding="utf-8-sig")
    assert any(v in shown for v in spec.values)  # the officer asked for them: the CSV has them
    for path in (state, db):
        with sqlite3.connect(path) as conn:
            dump = "\n".join(conn.iterdump())
        assert not [v for v in spec.values if v in dump], path
