"""The findings spool: what a report of half a million findings lives in."""

from __future__ import annotations

from scanner.model import Spool, rewrite


def test_spool_reads_back_what_was_written_any_number_of_times():
    items = [{"n": i, "masked": "340823********1236", "context": "身份证号" * (i % 7)} for i in range(30_000)]
    spool = Spool(items)
    assert len(spool) == 30_000 and bool(spool)
    assert list(spool) == items
    spool.append({"n": -1})
    assert sum(1 for _ in spool) == 30_001  # a second pass sees the appended item


def test_rewrite_makes_a_new_spool_and_can_drop_items():
    spool = Spool({"n": i} for i in range(10))
    odd = rewrite(spool, lambda d: {**d, "odd": True} if d["n"] % 2 else None)
    assert isinstance(odd, Spool) and [d["n"] for d in odd] == [1, 3, 5, 7, 9]
    assert [d["n"] for d in spool] == list(range(10))  # the original is unchanged
    assert rewrite([{"n": 1}, {"n": 2}], lambda d: d if d["n"] > 1 else None) == [{"n": 2}]
    assert not Spool()
