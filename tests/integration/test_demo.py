"""The README's main job: the demo plays the whole loop and its key figures hold."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo():
    spec = importlib.util.spec_from_file_location("rinne_demo", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rinne_demo"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_demo_plays_the_loop_and_the_audit_passes(tmp_path):
    out = tmp_path / "demo-output"
    summary = _demo().run(out, quiet=True)
    units = summary["units"]
    # Published range for cell production: 61-106 kg CO2e/kWh (IVL 2019).
    for pack in ("LF001", "LF002", "LF003", "LF004", "LF005"):
        assert 61 <= units[pack]["kg_co2e_per_kwh"] <= 106, pack
        assert set(units[pack]["stages_per_kwh"]) >= {"raw_material_acquisition", "main_production", "distribution"}
    # Recycled material lowers LF005's raw-material stage and gives it recycled content.
    assert units["LF005"]["stages_per_kwh"]["raw_material_acquisition"] < units["LF001"]["stages_per_kwh"]["raw_material_acquisition"]
    for element, lo, hi in (("Ni", 0.30, 0.60), ("Co", 0.30, 0.60), ("Li", 0.25, 0.60)):
        assert lo <= units["LF005"]["recycled"][element] <= hi, element
    assert units["LF001"]["recycled"]["Ni"] == 0
    assert units["LF005"]["targets_met"] == {"2031": True, "2036": True}
    assert units["LF005"]["origin"]["Co"].get("CD", 0) > 0 and units["LF005"]["origin"]["Co"].get("recycled", 0) > 0
    # Longer and more lives: embodied carbon per delivered kWh keeps falling.
    for unit in ("LF001", "ESS001"):
        series = [x[2] for x in units[unit]["lifetime"]["series"] if x[2] is not None]
        assert len(series) >= 4 and all(a > b for a, b in zip(series, series[1:])), unit
    assert set(units["ESS001"]["lifetime"]["lives_kwh"]) >= {"first_life", "second_life"}
    assert summary["triage"] == {"LF001": "reuse", "LF002": "recycle", "LF003": "repurpose", "LF004": "repurpose"}
    # Three frauds, each stopped.
    assert len(summary["frauds"]) == 3 and not any("NOT STOPPED" in f["stopped_by"] for f in summary["frauds"])
    assert summary["audit"]["passed"] and summary["audit"]["events"] > 150
    assert {"NI-ORE-AU-01", "CO-ORE-CD-01", "LI-ORE-AU-01"} <= set(summary["mines_of_LF005"])
    for name in ("audit.html", "audit.json", "LF005-passport.json", "LF005-provenance.html", "summary.json"):
        assert (out / name).stat().st_size > 100, name
    assert json.loads((out / "audit.json").read_text())["flags"] == []
    assert summary["seconds"] < 120
