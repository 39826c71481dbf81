"""Known answers on a small graph worked out by hand (see conftest.build_reference): a multi-output
transform, a partial split, a merge, a partial input, two packs, a repurposed ESS with two parents
(one given in part), a multi-output recycling and a cathode with recovered nickel. No chain."""

from __future__ import annotations

import json
import math

import pytest
from eth_abi import decode as abi_decode
from prov_synth import AUDITOR, SYNTH_VAULT, VERIFIER, build_reference

from ledger import errors
from ledger.chain.abi import contract_abi
from ledger.chain.logs import layouts
from ledger.domain.enums import PassportStatus
from ledger.domain.ids import to_bytes32
from ledger.domain.models import SohRecord
from ledger.figures.footprint import all_footprints, claim_assurance, footprint, footprint_of
from ledger.figures.lifetime import lifetime_carbon
from ledger.figures.origin import origin_mix
from ledger.figures.recycled import recycled_content
from ledger.figures.triage import triage
from ledger.queries.trace import trace

approx = lambda x: pytest.approx(x, rel=1e-12, abs=1e-12)  # noqa: E731


def _norm(v):
    return v.lower() if isinstance(v, str) else list(map(_norm, v)) if isinstance(v, (list, tuple)) else v


def b(label: str) -> bytes:
    return bytes.fromhex(to_bytes32(label)[2:])


def test_fast_decoder_matches_eth_abi(reference) -> None:
    """Every event the reference emits decodes the same with the word-slicing decoder as with eth-abi."""
    abis = {0: contract_abi("RinneLedger"), 1: contract_abi("GwpAttestations")}
    seen = set()
    for log in reference.logs:
        slot = 0 if log["address"] == "0x" + "11" * 20 else 1
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        data = bytes.fromhex(log["data"][2:])
        fast = layouts()[(slot, topics[0])].decode(topics, data)
        ev = abis[slot].events_by_topic[topics[0]]
        slow = dict(zip(ev.data_names, abi_decode(ev.data_types, data))) if ev.data_names else {}
        for (name, t), topic in zip(ev.indexed, topics[1:]):
            slow[name] = topic if t == "bytes32" else abi_decode([t], topic)[0]
        assert {k: _norm(v) for k, v in fast.items()} == {k: _norm(v) for k, v in slow.items()}, ev.name
        seen.add(ev.name)
    assert {"LotCreated", "LotUpdated", "LotsTransformed", "UnitCreated", "SohRecorded", "StatusChanged", "Attested"} <= seen


def test_footprints_by_hand(ref_index) -> None:
    """Allocation by tracked-element mass, partial use, remainders, merge and per-stage sums, by hand."""
    # ORE-NI's 100 kg go by nickel: NISO4 holds all 18 kg of the refinery's output nickel, the slag none,
    # so NISO4 carries 100 + own 20 = 120 kg for its 400 kg (0.3 kg/kg) and SLAG nothing, however heavy.
    # 200 kg of NISO4 were used since (100 split off, 100 into CAM3): the 200 kg left carry 60 kg.
    niso4 = footprint(ref_index, "NISO4")
    assert niso4.kg_co2e == approx(60) and niso4.mass_g == 200_000 and niso4.minted_mass_g == 400_000
    assert niso4.kg_co2e_per_kg == approx(0.3) and niso4.state == "active"
    slag = footprint(ref_index, "SLAG")
    assert slag.kg_co2e == 0 and slag.assurance == "missing" and slag.weakest == [to_bytes32("SLAG")]
    # Split 100 kg of NISO4 (30 kg CO2e) into 60 kg (2.7 kg Ni) and 40 kg (1.8 kg Ni): 18 and 12 kg CO2e.
    assert footprint(ref_index, "NISO4-A").kg_co2e == approx(18)
    assert footprint(ref_index, "NISO4-B").kg_co2e == approx(12)
    # Merge with purchased NISO4-X (8 kg): 26 kg.
    assert footprint(ref_index, "NISO4-M").kg_co2e == approx(26)
    # CAM: 26 + a fifth of ORE-CO (10) + all brine (10) + own 30 = 76.
    assert footprint(ref_index, "CAM").kg_co2e == approx(76)
    # PACK1: 76 + 13 + 2 = 91 kg, 60 kWh rated; stages 35 (ORE-NI 15, ORE-CO 10, brine 10) / 54 / 2 / 0.
    p1 = footprint(ref_index, "PACK1", price_per_tonne=80)
    assert p1.kg_co2e == approx(91)
    assert p1.kind == "unit"
    assert p1.per_kwh is not None and p1.per_kwh.rated_kwh == 60 and p1.per_kwh.kg_co2e_per_kwh == approx(91 / 60)
    assert p1.stages == {
        "raw_material_acquisition": approx(35),
        "main_production": approx(54),
        "distribution": approx(2),
        "end_of_life": 0,
    }
    assert p1.per_kwh.stages["main_production"] == approx(54 / 60)
    assert p1.carbon_cost is not None and p1.carbon_cost.cost == approx(91 / 1000 * 80)
    assert p1.assurance == "verified" and p1.excluded_kg == 0
    # ORE-NI reaches PACK1 with factor 1 (refining) × 0.25 (split off) × 0.6 (part A) × 1 = 0.15 → 15 kg.
    ore = next(c for c in p1.contributions if c.label == "ORE-NI")
    assert ore.share == approx(0.15) and ore.kg_co2e == approx(15)
    assert sum(c.kg_co2e for c in p1.contributions) == approx(91)


def test_repurposed_ess_with_two_parents(ref_index) -> None:
    """ESS1 = all of PACK1 (91) + half of PACK2 (30 / 2) + own 5 = 111 kg; 70 kWh rated."""
    pack2 = footprint(ref_index, "PACK2")  # used up (half repurposed, half recycled): the lot as it was
    assert pack2.kg_co2e == approx(30) and pack2.state == "consumed" and pack2.mass_g == 30_000
    ess = footprint(ref_index, "ESS1")
    assert ess.kg_co2e == approx(111)
    assert ess.per_kwh is not None and ess.per_kwh.kg_co2e_per_kwh == approx(111 / 70)


def test_recycling_cut_off_and_multi_output(ref_index) -> None:
    """Recovered lots carry only the recycling burden: PACK2's footprint stays behind."""
    rec = footprint(ref_index, "REC-NI")
    assert rec.kg_co2e == approx(4)
    bm = footprint(ref_index, "REC-BM")
    assert bm.kg_co2e == 0 and bm.assurance == "missing"
    # CAM3 = REC-NI whole (4) + 100 kg of fresh NISO4 at 0.3 kg/kg (30) + own 7 (self-declared) = 41.
    cam3 = footprint(ref_index, "CAM3")
    assert cam3.kg_co2e == approx(41)
    assert cam3.assurance == "self-declared" and cam3.weakest == [to_bytes32("CAM3")]
    assert cam3.by_assurance()["self-declared"] == approx(7)


def test_forward_and_reverse_allocation_agree(ref_index) -> None:
    """The one-pass forward computation used by the audit equals the per-lot reverse propagation."""
    st = ref_index.state()
    forward = all_footprints(st, st.last_timestamp)
    for lot_id in st.lots:
        assert forward[lot_id] / 1000 == pytest.approx(footprint_of(st, lot_id, at=st.last_timestamp).kg_co2e, rel=1e-12, abs=1e-9)


def test_pure_state_and_index_subgraph_agree(ref_index) -> None:
    """Footprint from the full in-memory replay equals footprint from the index's upstream subgraph."""
    st = ref_index.state()
    for label in ("PACK1", "ESS1", "CAM3", "REC-NI"):
        assert footprint(st, label).kg_co2e == approx(footprint(ref_index, label).kg_co2e)


def test_revoked_shown_not_counted_and_late_accredited_counted_and_marked() -> None:
    s = build_reference()
    uid = s.attest("ORE-CO", 1, 0, VERIFIER)  # a second figure for ORE-CO…
    s.revoke(uid, AUDITOR)  # …revoked
    s.attest("NISO4-X", 2, 1, VERIFIER, valid_for=60)  # after NISO4-X was merged (late), and expiring a minute later
    s.mine(3600)
    index = s.ingest()
    fp = footprint(index, "PACK1")
    # ORE-CO: 50 kg counted + 1 kg revoked (a fifth reaches PACK1); NISO4-X: 8 + 2 kg, the late figure
    # of an accredited verifier counts, and its expiry is judged at the merge, not now.
    assert fp.kg_co2e == approx(91 + 2)
    assert fp.assurance == "verified"
    assert fp.excluded_kg == approx(0.2 * 1)
    ore_co = next(c for c in fp.contributions if c.label == "ORE-CO")
    assert sorted(a.status for a in ore_co.attestations) == ["revoked", "verified"]
    x = next(c for c in fp.contributions if c.label == "NISO4-X")
    late = [a for a in x.attestations if a.late]
    assert len(late) == 1 and late[0].kg_co2e == 2 and late[0].status == "verified"
    assert claim_assurance(index.state(), b("PACK1"), at=index.chain_timestamp).late == [late[0].uid]
    # Judging the product at another time does not move its inputs' judgement.
    early = footprint(index, "PACK1", at=index.chain_timestamp - 3600)
    assert early.kg_co2e == approx(93)


def test_own_claim_expiring_while_held_is_expired_but_after_use_is_not() -> None:
    """A lot's own figure is judged now while the lot holds material, and at its use once used up."""
    s = build_reference()
    s.attest("NISO4-B", 3, 1, VERIFIER, valid_for=60)  # NISO4-B is never used
    s.mine(3600)
    index = s.ingest()
    b_fp = footprint(index, "NISO4-B")
    assert b_fp.assurance == "expired" and b_fp.kg_co2e == approx(12) and b_fp.excluded_kg == approx(3)
    assert footprint(index, "NISO4-B", at=index.chain_timestamp - 3590).kg_co2e == approx(15)


def test_missing_attestation_only_revoked() -> None:
    s = build_reference()
    st_index = s.ingest()
    uid = next(u for u, a in st_index.state().attestations.items() if a.lot_id == b("CAM"))
    s.revoke(uid, VERIFIER)
    index = s.ingest()
    fp = footprint(index, "PACK1")
    assert fp.kg_co2e == approx(91 - 30)
    cam = next(c for c in fp.contributions if c.label == "CAM")
    assert cam.assurance == "revoked" and cam.excluded_kg == approx(30)
    assert fp.assurance == "revoked" and fp.weakest == [to_bytes32("CAM")]


def test_recycled_content_and_art8_targets(ref_index) -> None:
    cam3 = recycled_content(ref_index, "CAM3")
    ni_share = next(e for e in cam3.elements if e.element == "Ni")
    assert ni_share.total_g == 5_700 and ni_share.post_consumer_g == 1_200 and ni_share.pre_consumer_g == 0
    assert ni_share.post_consumer_share == approx(1_200 / 5_700)
    assert ni_share.recycled_share == approx(1_200 / 5_700)
    ni_2031 = next(t for t in cam3.targets if t.element == "Ni" and t.year == 2031)
    ni_2036 = next(t for t in cam3.targets if t.element == "Ni" and t.year == 2036)
    assert ni_2031.target == 0.06 and ni_2031.met is True
    assert ni_2036.target == 0.15 and ni_2036.met is True  # 21 % ≥ 15 %
    assert next(t for t in cam3.targets if t.element == "Co").met is None  # no cobalt at all
    assert cam3.assurance == "verified" and cam3.declared_at_mint == []  # recovered on the ledger
    ess = recycled_content(ref_index, "ESS1")
    assert ess.assurance == "n/a"
    assert ess.kind == "unit" and ess.meets == {2031: False, 2036: False}
    rec = recycled_content(ref_index, "REC-BM")
    assert next(e for e in rec.elements if e.element == "Ni").post_consumer_share == 1.0


def test_origin_mix_by_mass_share(ref_index) -> None:
    pack1 = origin_mix(ref_index, "PACK1")
    # Ni: 2.7 kg from the Australian ore (via NISO4-A) and 1.8 kg of Finnish sulphate.
    assert pack1.grams["Ni"] == {"AU": approx(2_700), "FI": approx(1_800)}
    assert pack1.shares["Ni"] == {"AU": approx(0.6), "FI": approx(0.4)}
    assert pack1.shares["Co"] == {"CD": approx(1.0)} and pack1.shares["Li"] == {"CL": approx(1.0)}
    assert {m.label for m in pack1.mines} == {"ORE-NI", "ORE-CO", "LI-BRINE", "NISO4-X"}
    ess = origin_mix(ref_index, "ESS1")
    assert ess.grams["Ni"] == {"AU": approx(2_700 + 1_500), "FI": approx(1_800)}
    cam3 = origin_mix(ref_index, "CAM3")
    assert cam3.grams["Ni"] == {"AU": approx(4_500), "recycled": approx(1_200)}
    deep = origin_mix(ref_index, "CAM3", through_recycling=True)
    assert deep.grams["Ni"] == {"AU": approx(5_700)}


def test_supply_concentration_by_element(ref_index) -> None:
    """Herfindahl-Hirschman over the mining countries of each element (issue 19), worked by hand."""
    pack1 = origin_mix(ref_index, "PACK1").concentration
    # Ni 60 % AU and 40 % FI: 60² + 40² = 5,200; Co all from CD: 10,000.
    assert pack1["Ni"].hhi == approx(5_200) and pack1["Ni"].countries == {"AU": approx(0.6), "FI": approx(0.4)}
    assert pack1["Ni"].top_country == "AU" and pack1["Ni"].recycled_share == 0.0
    assert pack1["Co"].hhi == approx(10_000) and pack1["Li"].top_country == "CL"
    # CAM3's nickel is 1.2 of 5.7 kg recycled: outside the index, which is over the mined 4.5 kg (all AU).
    cam3 = origin_mix(ref_index, "CAM3").concentration["Ni"]
    assert cam3.hhi == approx(10_000) and cam3.recycled_share == approx(1_200 / 5_700)


def test_undeclared_origin_never_lowers_the_concentration() -> None:
    """Hiding where material came from cannot make a supply look diverse: the undeclared part is counted in
    the largest country's share, the worst case, so the index is an upper bound on the true one."""
    from ledger.figures.origin import concentration_of

    honest = concentration_of({"CD": 500.0, "AU": 500.0})
    # The cheat: the same supply, three quarters from CD, with half of the CD ore minted with no origin.
    truth = concentration_of({"CD": 750.0, "AU": 250.0})
    hidden = concentration_of({"CD": 375.0, "unknown": 375.0, "AU": 250.0})
    assert honest is not None and truth is not None and hidden is not None
    assert honest.hhi == approx(5_000) and truth.hhi == approx(75**2 + 25**2)
    assert hidden.hhi >= truth.hhi and hidden.unknown_share == approx(0.375)
    everything_hidden = concentration_of({"unknown": 100.0})
    assert everything_hidden is not None and everything_hidden.hhi == approx(10_000)
    # The index is over what was mined: recycled grams neither dilute nor concentrate it.
    with_recycled = concentration_of({"CD": 500.0, "AU": 500.0, "recycled": 9_000.0})
    assert with_recycled is not None and with_recycled.hhi == approx(5_000) and with_recycled.recycled_share == approx(0.9)
    assert concentration_of({"recycled": 10.0}) is None


def test_lifetime_carbon_across_lives(ref_index) -> None:
    """ESS1 embodies 102 kg; PACK1 delivered 10 MWh (first life) + 4 MWh (reuse), PACK2 8 MWh of which
    half counts (half its mass went into ESS1), then the ESS delivered 6 MWh: 24 MWh in all."""
    lc = lifetime_carbon(ref_index, "ESS1", openings=SYNTH_VAULT)
    assert lc.embodied_kg_co2e == approx(111)
    assert lc.delivered_kwh == approx(24_000)
    assert lc.kg_co2e_per_kwh_delivered == approx(111 / 24_000)
    assert lc.lives == {"first_life": approx(14_000), "reuse": approx(4_000), "second_life": approx(6_000)}
    assert [round(p.delivered_kwh) for p in lc.series] == [10_000, 14_000, 18_000, 24_000]
    per = [p.kg_co2e_per_kwh for p in lc.series]
    assert per == sorted(per, reverse=True) and per[-1] == approx(111 / 24_000)
    weights = {u.label: u.weight for u in lc.lineage}
    assert weights == {"ESS1": 1.0, "PACK1": approx(1.0), "PACK2": approx(0.5)}
    p1 = lifetime_carbon(ref_index, "PACK1", openings=SYNTH_VAULT)
    assert p1.delivered_kwh == approx(14_000) and p1.kg_co2e_per_kwh_delivered == approx(91 / 14_000)


def test_trace_upstream_and_downstream(ref_index) -> None:
    up = trace(ref_index, "PACK1", direction="up")
    assert {m.label for m in up.mines} == {"ORE-NI", "ORE-CO", "LI-BRINE", "NISO4-X"}
    assert {lot.label for lot in up.lots} == {"PACK1", "CAM", "NISO4-M", "NISO4-A", "NISO4-X", "NISO4", "ORE-NI", "ORE-CO", "LI-BRINE"}
    kinds = sorted(op.kind for op in up.ops)
    assert kinds == ["build", "merge", "split", "transform", "transform"]
    down = trace(ref_index, "ORE-NI", direction="down")
    labels = {lot.label for lot in down.lots}
    assert {"NISO4", "SLAG", "NISO4-A", "NISO4-B", "NISO4-M", "CAM", "PACK1", "ESS1", "CAM3"} <= labels
    assert "PACK2" not in labels and "REC-NI" not in labels
    assert {u.label for u in down.units} == {"PACK1", "ESS1"}
    ore = next(lot for lot in down.lots if lot.label == "ORE-NI")
    assert ore.role == "root" and ore.state == "consumed" and ore.origin_country == "AU"
    pack2 = trace(ref_index, "PACK2")
    assert {lot.label for lot in pack2.lots if lot.role == "downstream"} == {"ESS1", "REC-NI", "REC-BM", "CAM3"}
    partial = next(op for op in pack2.ops if op.kind == "repurpose")
    assert (to_bytes32("PACK2"), 15_000) in [tuple(i) for i in partial.inputs]
    dot = pack2.to_dot()
    assert dot.startswith("digraph") and '"' + to_bytes32("ESS1") + '"' in dot
    data = json.loads(trace(ref_index, "PACK1").to_json())
    assert data["root"] == to_bytes32("PACK1") and {lot["label"] for lot in data["lots"]} >= {"ORE-NI", "ESS1"}


def test_unknown_lot_is_a_clear_error(ref_index) -> None:
    with pytest.raises(errors.InvalidInput, match="no lot NOPE"):
        footprint(ref_index, "NOPE")
    with pytest.raises(errors.InvalidInput):
        trace(ref_index, "NOPE")
    with pytest.raises(errors.InvalidInput, match="not a battery unit"):
        lifetime_carbon(ref_index, "CAM")


@pytest.mark.parametrize(
    ("soce", "current", "rec", "status"),
    [
        (0.85, PassportStatus.ORIGINAL, "reuse", PassportStatus.REUSED),
        (0.80, PassportStatus.ORIGINAL, "reuse", PassportStatus.REUSED),
        (0.799, PassportStatus.ORIGINAL, "repurpose", None),
        (0.60, PassportStatus.REUSED, "repurpose", None),
        (0.59, PassportStatus.REUSED, "recycle", PassportStatus.WASTE),
        (0.90, PassportStatus.REUSED, "reuse", None),  # already reused: nothing to record
        (0.90, PassportStatus.REPURPOSED, "reuse", None),  # an ESS cannot become Reused
        (0.30, None, "recycle", PassportStatus.WASTE),
    ],
)
def test_triage_thresholds(soce: float, current, rec: str, status) -> None:
    d = triage(soce, current_status=current)
    assert d.recommendation == rec and d.status == status


def test_triage_from_soh_record_and_custom_thresholds() -> None:
    from ledger.figures.triage import TriageThresholds

    soh = SohRecord(soce_bp=7_500, capacity_wh=45_000, cycles=900, throughput_wh=30_000_000, evidence="0x" + "aa" * 32)
    assert triage(soh).recommendation == "repurpose"
    d = triage(soh, thresholds=TriageThresholds(reuse=0.7, repurpose=0.5))
    assert d.recommendation == "reuse" and d.status == PassportStatus.REUSED and d.evidence == "0x" + "aa" * 32
    with pytest.raises(errors.InvalidInput):
        triage(soh, thresholds=TriageThresholds(reuse=0.5, repurpose=0.7))
    assert not math.isnan(d.soce)


def test_reference_replays_without_issues(ref_index) -> None:
    """The synthetic history is one the contracts would accept: a strict replay finds nothing."""
    st = ref_index.state()
    assert st.issues == []
    assert len(st.lots) == 17 and len(st.units) == 3 and len(st.ops) == 9


def test_claim_assurance_is_the_footprints_judgement_for_every_lot() -> None:
    """The audit's per-claim judgement (with its fast path for minted lots) equals what verify shows."""
    s = build_reference()
    s.attest("NISO4-B", 3, 1, VERIFIER, valid_for=60)  # expires while the lot is held
    s.attest("ORE-NI", 1, 1, VERIFIER)  # late: ORE-NI was used long before
    s.mine(3600)
    index = s.ingest()
    st, at = index.state(), index.chain_timestamp
    levels = set()
    for lot_id in st.lots:
        ca, fp = claim_assurance(st, lot_id, at=at), footprint_of(st, lot_id, at=at)
        assert (ca.level, ca.weakest, ca.by_level) == (fp.assurance, fp.weakest, fp.by_assurance()), lot_id
        levels.add(ca.level)
    assert {"verified", "self-declared", "missing", "expired"} <= levels
