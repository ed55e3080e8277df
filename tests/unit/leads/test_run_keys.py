"""The run's de-duplication keys (``RunKeys``) answer exactly as one plain dict where the first row wins.

Whatever the tier sizes (the dict tier, the direct-mapped levels, the SQLite spill), whatever the keys
(phone-like ints, ints no slot can hold, text ids whose hashes all collide) and rows (all of int64
too), in whatever interleaving of lookups and additions. The sizes are injected so a few keys cross
every tier; the model is a dict built here with ``setdefault``, independent of the code under test.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airflow_provider_dialer.leads.suppression as suppression
from airflow_provider_dialer.leads.suppression import RunKeys

# ints that share slots in small levels, the empty-slot value 0, negatives, and ints beyond int64
INT_KEYS = st.one_of(
    st.integers(1, 40),
    st.integers(-3, 3),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**70, 598_94_123_456, 1_212_555_0100]),
)
# rows anywhere in int64 (what SQLite and the slots hold)
ROWS = st.one_of(st.integers(1, 10**6), st.sampled_from([0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)]))
TEXT_KEYS = st.one_of(st.integers(0, 40).map(lambda k: f"id-{k}" if k % 3 else f"ïd {k}"), st.text(max_size=4))
LEVELS = st.lists(st.integers(1, 7), max_size=4)


def _check(keys: RunKeys, table: str, probe: list[Any], model: dict[Any, int]) -> None:
    assert keys.found(table, probe) == {k: model[k] for k in probe if k in model}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    memory_keys=st.integers(0, 6),
    levels=LEVELS,
    int_batches=st.lists(st.lists(st.tuples(INT_KEYS, ROWS), max_size=12), max_size=10),
    text_batches=st.lists(st.lists(st.tuples(TEXT_KEYS, ROWS), max_size=12), max_size=10),
    collide=st.booleans(),
)
def test_run_keys_answer_as_a_plain_dict(
    monkeypatch, memory_keys: int, levels: list[int], int_batches, text_batches, collide: bool
) -> None:
    if collide:  # every text id in the same slot of every level: slots hold other ids with equal hashes
        monkeypatch.setattr(suppression, "_hash", lambda key: 7)
    keys = RunKeys(memory_keys=memory_keys, levels=levels)
    models: dict[str, dict[Any, int]] = {"phone": {}, "dnc": {}, "external_id": {}}
    streams = [("phone", b) for b in int_batches] + [("external_id", b) for b in text_batches]
    streams += [("dnc", b) for b in int_batches[::2]]
    random.Random(len(streams)).shuffle(streams)  # the tables interleave, as in a run
    try:
        for table, batch in streams:
            model = models[table]
            _check(keys, table, [k for k, _ in batch], model)
            keys.add(table, batch)
            for k, row in batch:
                model.setdefault(k, row)
            _check(keys, table, [k for k, _ in batch], model)
        for table, model in models.items():
            everything = [k for b in (int_batches if table != "external_id" else text_batches) for k, _ in b]
            extra = [*range(-3, 45), 2**64] if table != "external_id" else ["never", "id-1", ""]
            _check(keys, table, [*everything, *extra], model)
    finally:
        keys.close()


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32), levels=st.lists(st.integers(1, 64), min_size=1, max_size=4))
def test_many_keys_through_small_levels_into_sqlite(seed: int, levels: list[int]) -> None:
    """Key streams shaped like a run (chunks, repeats of recent keys) past every tier, against a dict."""
    rng = random.Random(seed)
    keys = RunKeys(memory_keys=rng.randrange(0, 20), levels=levels)
    model: dict[int, int] = {}
    recent: list[int] = []
    row = 0
    try:
        for _ in range(rng.randrange(1, 12)):
            chunk = []
            for _ in range(rng.randrange(1, 60)):
                row += 1
                k = rng.choice(recent) if recent and rng.random() < 0.1 else rng.randrange(1, 10**12)
                recent.append(k)
                chunk.append(k)
            seen = keys.found("phone", chunk)
            assert seen == {k: model[k] for k in chunk if k in model}
            # what a run adds: the chunk's keys not seen before, each once, with its first row
            new = {}
            for i, k in enumerate(chunk):
                if k not in seen:
                    new.setdefault(k, row - len(chunk) + i + 1)
            keys.add("phone", list(new.items()), new=rng.random() < 0.5)  # what the run promises
            for k, r in new.items():
                model.setdefault(k, r)
        assert keys.found("phone", list(model) + [0, 10**13]) == model
        if len(model) > keys.memory_keys + sum(levels):
            assert keys.spilled["phone"], "more keys than slots must reach SQLite"
    finally:
        keys.close()


def test_tiers_first_row_wins_and_levels_wait_for_the_dict() -> None:
    # up to 3 keys in the dict, then levels of 5 and 3 slots, then SQLite
    keys = RunKeys(memory_keys=3, levels=(5, 3))
    try:
        keys.add("phone", [(10, 1), (11, 2)])
        keys.add("phone", [(12, 3), (10, 99)])
        assert keys.levels["phone"] is None and keys._db is None  # nothing allocated before the dict fills
        assert keys.memory["phone"] == {10: 1, 11: 2, 12: 3}
        # a chunk past the dict: its keys and the dict's move to the levels, the dict is dropped
        keys.add("phone", [(13, 4), (14, 5), (13, 98)])
        assert keys.memory["phone"] == {} and keys.levels["phone"].count == 5 and not keys.spilled["phone"]
        # slots: 10 % 5, 11 % 5, 12 % 5, 13 % 5, 14 % 5 fill the first level; 15 % 3 and 16 % 3 the second
        keys.add("phone", [(15, 6), (16, 7), (11, 97), (14, 96), (18, 9)])  # 18 % 3 == 15 % 3: it spills
        assert keys.levels["phone"].count == 7 and keys.spilled["phone"]
        assert keys.found("phone", [10, 11, 12, 13, 14, 15, 16, 17, 13]) == {
            10: 1,
            11: 2,
            12: 3,
            13: 4,
            14: 5,
            15: 6,
            16: 7,
        }
        keys.add("phone", [(13, 95), (16, 94), (17, 8)])
        assert keys.found("phone", [17, 16, 13, 18, 19]) == {17: 8, 16: 7, 13: 4, 18: 9}
        assert keys.found("external_id", ["a"]) == {} and keys.levels["external_id"] is None
    finally:
        keys.close()


def test_no_levels_and_no_dict_go_straight_to_sqlite() -> None:
    for memory_keys, levels, spills in ((0, (), True), (1, (), True), (0, (3,), True), (0, (5, 3), False)):
        keys = RunKeys(memory_keys=memory_keys, levels=levels)
        try:
            keys.add("dnc", [(5, 1), (5, 2), (8, 3)])  # 5 and 8 share their slot in a level of 3
            assert keys.spilled["dnc"] is spills, (memory_keys, levels)
            assert keys.found("dnc", [5, 8, 7]) == {5: 1, 8: 3}
        finally:
            keys.close()


def test_a_level_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        RunKeys(levels=(4, 0))


def test_close_removes_the_scratch_files(tmp_path: Path) -> None:
    """External ids written to the scratch file (and the SQLite spill) leave nothing on disk after close."""
    keys = RunKeys(directory=str(tmp_path), memory_keys=0, levels=(1,))
    keys.add("external_id", [("crm-1", 1), ("crm-2", 2), ("crm-3", 3)])
    keys.add("phone", [(12125550100, 1), (12125550101, 2), (12125550102, 3)])
    [scratch] = list(tmp_path.iterdir())
    assert {p.name for p in scratch.iterdir()} == {"external_ids.bin", "keys.sqlite"}
    assert keys.found("external_id", ["crm-1", "crm-3", "crm-4"]) == {"crm-1": 1, "crm-3": 3}
    assert b"crm-1" in (scratch / "external_ids.bin").read_bytes()
    keys.close()
    assert list(tmp_path.iterdir()) == []


def test_every_valid_phone_key_fits_a_slot() -> None:
    """The phone key is the E.164 digits as an int64: the longest numbers phonenumbers can call valid still fit."""
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    metadata = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.SUPPORTED_REGIONS]
    metadata += [PhoneMetadata.metadata_for_nongeo_region(cc) for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS]
    largest = max(int(f"{m.country_code}{'9' * max(m.general_desc.possible_length)}") for m in metadata)
    assert largest < 2**63
    keys = RunKeys(memory_keys=0, levels=(3,))
    try:
        keys.add("phone", [(largest, 1)])
        assert keys.levels["phone"].count == 1 and keys.odd["phone"] == {}
        assert keys.found("phone", [largest]) == {largest: 1}
    finally:
        keys.close()


def test_default_levels_are_what_the_docs_promise() -> None:
    """The defaults hold a million keys per table with little left for SQLite (the docstring's claim)."""
    assert suppression.MEMORY_KEYS == 50_000
    assert all(size > 1 and all(size % d for d in range(2, int(size**0.5) + 1)) for size in suppression.LEVELS)
    slots = sum(suppression.LEVELS)
    assert 1_900_000 < slots < 2_000_000
