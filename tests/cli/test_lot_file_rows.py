"""Reading a lot file validates each distinct row content once: the result must be exactly what validating
every row on its own gives, for good rows and bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rinne_cli import _specs


def _each_row_on_its_own(path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    """Every row through the whole path (the reference the memo must match)."""
    with monkeypatch.context() as m:
        m.setattr(_specs, "_memo_row_spec", lambda row, memo: _specs._row_spec(row))
        loaded = _specs.load_lot_file(path)
    return [loaded.specs, loaded.places, loaded.problems]


def _memoised(path: Path) -> list:
    loaded = _specs.load_lot_file(path)
    return [loaded.specs, loaded.places, loaded.problems]


def test_rows_that_share_content_give_the_specs_each_row_gives_alone(tmp_path, monkeypatch):
    path = tmp_path / "lots.csv"
    path.write_text(
        "lot_id,material,mass,Ni,Co,origin\n"
        + "".join(f"S-{i},NiSO4,{1 + i % 3}.5t,22%,1%,FI:Harjavalta\n" for i in range(30))
        + "0x"
        + "ab" * 32
        + ",NiSO4,1.5t,22%,1%,FI:Harjavalta\n"  # a hex id with a content seen before
    )
    memo = _memoised(path)
    assert memo == _each_row_on_its_own(path, monkeypatch)
    specs = memo[0]
    assert len({s.lot_id for s in specs}) == 31 and specs[0].site == "Harjavalta"
    assert specs[3].composition is specs[0].composition  # validated once, shared
    assert specs[1].mass == 2_500_000 and specs[1].composition.as_dict() == {"Ni": 550_000, "Co": 25_000}


def test_bad_rows_are_reported_on_every_line_even_when_their_content_repeats(tmp_path, monkeypatch):
    path = tmp_path / "bad.csv"
    path.write_text(
        "lot_id,material,mass,Ni\n"
        "B-1,NiSO4,1t,10%\n"
        "B-2,NiSO4,1t,200%\n"  # bad content
        "B-3,NiSO4,1t,200%\n"  # the same bad content again
        "0x12,NiSO4,1t,10%\n"  # a good content seen before, with a bad id
        ",NiSO4,1t,10%\n"  # no id
        "B-1,NiSO4,1t,10%\n" + "X" * 40 + ",NiSO4,1t,10%\n"  # the same id twice  # a long label is hashed, like any id
    )
    memo = _memoised(path)
    assert memo == _each_row_on_its_own(path, monkeypatch)
    problems = memo[2]
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "hex id must have 64 digits" in problems[2] and "lot_id is missing" in problems[3]


def test_json_rows_with_objects_and_numbers_take_the_whole_path(tmp_path, monkeypatch):
    path = tmp_path / "lots.json"
    path.write_text(
        json.dumps(
            [
                {"lot_id": "J-1", "material": "NiSO4", "mass": 1_000_000, "elements": {"Ni": "10%"}},
                {"lot_id": "J-2", "material": "NiSO4", "mass": 1_000_000, "elements": {"Ni": "10%"}},
                {"lot_id": 7, "material": "NiSO4", "mass": 2_000_000},
                {"lot_id": 8, "material": "NiSO4", "mass": 2_000_000},
                {"lot_id": True, "material": "NiSO4", "mass": 2_000_000},
                {"lot_id": "J-3", "material": "NiSO4", "mass": True},
                {"lot_id": "J-4", "material": "NiSO4", "mass": 1_000_000, "colour": "green"},
            ]
        )
    )
    assert _memoised(path) == _each_row_on_its_own(path, monkeypatch)
