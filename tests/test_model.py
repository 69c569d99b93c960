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


def test_a_record_of_many_items_reads_back_in_place_even_across_read_chunks():
    big = [{"n": i, "context": "联系电话" * 50} for i in range(5000)]  # one record larger than a read chunk
    spool = Spool([{"n": -1}])
    spool.append_encoded(Spool.encode_many(big) + Spool.encode({"n": -2}), len(big) + 1)
    assert len(spool) == 5002
    assert [d["n"] for d in spool] == [-1, *range(5000), -2]
    assert [d["n"] for d in Spool.decode(Spool.encode_many(big[:3]) + Spool.encode({"n": 9}))] == [0, 1, 2, 9]
