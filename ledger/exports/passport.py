"""Passport export: a battery passport with one member per Battery Pass 1.2.0 aspect model (Performance and
durability 1.2.1), each valid against its schema, access tiers per Annex XIII, and PACT product footprints
(3.0 in :func:`pact_footprint_v3`; 2.2.0 in :func:`pact_footprint` until the audit reads 3.0) for any lot.
The field-by-field mapping is in docs/passport-mapping.md. Ledger data comes from the replayed events;
what only an economic operator can declare comes from a declarations document and never overrides the ledger.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ledger import errors
from ledger.domain.composition import ELEMENTS
from ledger.domain.disclosure import Disclosure, Openings, disclose
from ledger.domain.enums import UNIT_FROM_UNITS, OpKind, PassportStatus
from ledger.domain.hashing import keccak
from ledger.domain.identity import verify_unit
from ledger.domain.ids import id_bytes, label_of
from ledger.domain.stages import STAGES
from ledger.domain.times import iso_time
from ledger.exports.batterypass import (
    ASPECTS,
    CAS_NUMBER,
    CRITICAL_RAW_MATERIAL,
    ELEMENT_NAME,
    EXTENSION,
    REQUIRED,
    TIERS,
    VISIBLE_POINTS,
    check_declarations,
    filter_tier,
    merge_declared,
)
from ledger.exports.common import chain_context, held_vector
from ledger.exports.passport_id import passport_url, unique_identifier
from ledger.figures.footprint import Footprint, footprint_of
from ledger.figures.inventory import ProcessInventoryReport, process_inventory_of
from ledger.figures.lifetime import lifetime_carbon_of
from ledger.figures.origin import origin_mix_of
from ledger.figures.regulation import Art7Parameters, active_materials_of, art7_figure
from ledger.figures.source import Source, judged_at, upstream_state
from ledger.replay.records import SohRec
from ledger.replay.soh import NOT_DISCLOSED, OpeningsSource, open_records
from ledger.replay.state import LedgerState

#: Battery Pass v1.2 ``lifecycleStage`` values for the four Art. 7 stages.
BATTERYPASS_STAGE = {
    "raw_material_acquisition": "RawMaterialExtraction",
    "main_production": "MainProduction",
    "distribution": "Distribution",
    "end_of_life": "Recycling",
}
#: GeneralProductInformation ``batteryStatus`` values. There is no "Recycled": under Art. 77(8) the passport of
#: a recycled battery ceases to exist, so such a unit has no passport export.
_STATUS_NAME = {
    PassportStatus.ORIGINAL: "Original",
    PassportStatus.REUSED: "Reused",
    PassportStatus.REPURPOSED: "Repurposed",
    PassportStatus.REMANUFACTURED: "Remanufactured",
    PassportStatus.WASTE: "Waste",
}
#: The PACT version :func:`pact_footprint` emits; :func:`pact_footprint_v3` emits PACT_SPEC_VERSION (3.0).
PACT_V2_SPEC_VERSION = "2.2.0"


def passport_urn(unit_id: bytes) -> str:
    """Return the battery passport identifier of a unit (``urn:rinne:<hex id>``, the v1.2 URN pattern)."""
    return "urn:rinne:" + unit_id.hex()


def attestation_entries(fp: Footprint) -> list[dict[str, Any]]:
    """Return the attestations behind a footprint as the passport's ``extensions.rinne.attestations`` member:
    one entry per attestation, judged (``status``, ``late``) as the footprint judged it."""
    return [
        {
            "uid": a.uid,
            "lotId": c.lot_id,
            "label": c.label,
            "lifecycleStage": BATTERYPASS_STAGE.get(a.stage, a.stage),
            "kgCo2e": a.kg_co2e,
            "status": a.status,
            "late": a.late,
            "signer": a.signer,
            "methodology": a.methodology,
            "validUntil": iso_time(a.valid_until),
        }
        for c in fp.contributions
        for a in c.attestations
    ]


def _link(unit_id: bytes) -> dict[str, str]:
    return {"unitId": "0x" + unit_id.hex(), "label": label_of(unit_id), "batteryPassportIdentifier": passport_urn(unit_id)}


def passport_links(st: LedgerState, unit_id: bytes) -> dict[str, list[dict[str, str]]]:
    """Return the passports a unit's passport links to: ``madeFrom``, the units it was made from (the parents
    its creation names, and the units the operation that made it consumed), and ``madeInto``, the units made
    from it (the units among the outputs of every operation that consumed it, and those naming it as a parent).

    Only the parent/child relation decides, whatever the operation's kind (repurposing, a pack taken apart into
    modules, any kind added later); a lot that is not a battery unit (cells, recovered material) is no passport
    and is not named, so recycled material never links a new battery to the old one. Oldest first."""
    lot, unit = st.lots[unit_id], st.units[unit_id]
    parents = list(unit.parents)
    if lot.made_by is not None:
        parents += st.ops[lot.made_by].inputs
    children = [o for op in lot.used_by for o in st.ops[op].outputs]
    children += [u.unit_id for u in st.units.values() if unit_id in u.parents]

    def units(ids: list[bytes]) -> list[dict[str, str]]:
        found = {i for i in ids if i in st.units and i != unit_id}
        return [_link(i) for i in sorted(found, key=lambda i: st.lots[i].pos if i in st.lots else st.units[i].pos)]

    return {"madeFrom": units(parents), "madeInto": units(children)}


def battery_category(st: LedgerState, unit_id: bytes) -> str:
    """Return a unit's Battery Pass ``batteryCategory`` as the ledger's lineage gives it: ``stationary`` for a
    repurposed unit (second life in another application); a module of a dismantled unit or a remanufactured unit
    keeps the category of the unit it came from (its first parent: remanufacturing restores the original
    purpose, and a module is that unit in smaller parts); any other unit is ``ev``."""
    seen: set[bytes] = set()
    while unit_id not in seen:
        seen.add(unit_id)
        lot, unit = st.lots.get(unit_id), st.units.get(unit_id)
        op = st.ops[lot.made_by] if lot is not None and lot.made_by is not None else None
        if unit is None or op is None or op.kind not in UNIT_FROM_UNITS:
            break
        if op.kind == OpKind.REPURPOSE:
            return "stationary"
        parents = [p for p in [*unit.parents, *op.inputs] if p in st.units]
        if not parents:
            break
        unit_id = parents[0]
    return "ev"


class _Identity:
    """The identity fields of a unit a passport may show, verified against its ``serialHash``, and their proofs."""

    def __init__(self, disclosure: Disclosure, fields_verified: dict[str, Any]) -> None:
        self.disclosure = disclosure
        self.fields_verified = fields_verified


def _identity(serial_hash: bytes, uid: bytes, identity: Disclosure | Openings | None, tier: str) -> _Identity | None:
    if identity is None:
        return None
    if tier not in VISIBLE_POINTS:
        raise errors.InvalidInput(f"unknown access tier {tier!r}; tiers: {', '.join(TIERS)}")
    visible = VISIBLE_POINTS[tier]
    if isinstance(identity, Openings):
        names = identity.names(visible)
        if not names:
            return None
        identity = disclose(identity, names)
    else:
        identity = identity.model_copy(update={"fields": tuple(f for f in identity.fields if f.point in visible)})
        if not identity.fields:
            return None
    return _Identity(identity, verify_unit(serial_hash, identity, uid))


def battery_passport(
    source: Source,
    unit_id: str | bytes,
    *,
    at: int | None = None,
    category: str | None = None,
    chain_id: int | None = None,
    ledger_address: str | None = None,
    declarations: Mapping[str, Any] | None = None,
    art7: Art7Parameters | None = None,
    tier: str = "authority",
    identity: Disclosure | Openings | None = None,
    soh_openings: OpeningsSource | None = None,
) -> dict[str, Any]:
    """Export a battery unit's passport: one JSON document with one member per Battery Pass aspect model
    (:data:`ledger.exports.batterypass.ASPECTS`: general product information, carbon footprint, circularity,
    material composition, labels, performance and durability 1.2.1, supply chain due diligence) and Rinne's
    own data only under ``extensions.rinne``.

    Ledger data fills every field it holds; `declarations` (see :func:`ledger.exports.batterypass.check_declarations`)
    fill what only the economic operator can declare (documents, addresses, rated values) and may never
    overwrite a ledger field. Nothing else is invented: a field neither holds is left out, and
    ``extensions.rinne.missingRequiredMembers`` lists the schema-required members so left out. The carbon
    footprint is the Art. 7 figure per kWh of lifetime energy (`art7`, or ``declarations["art7"]``); recycled
    content is the Art. 8 share in the active materials.
    `tier` ("public", "legitimate-interest", "authority") keeps only the fields that tier may see (Annex XIII).
    `category` defaults to the lineage's (:func:`battery_category`): "stationary" for a repurposed unit, that of
    the unit it came from for a module or a remanufactured unit, "ev" otherwise.
    `identity` is the unit's identity record (its openings, from the vault, or a disclosure of it): the fields
    `tier` may see are verified against the on-chain ``serialHash`` and exported with their proofs under
    ``extensions.rinne.identity``, for anyone to check offline (:func:`ledger.verify_unit`); a declared
    ``serialNumber`` must be the committed one.
    `soh_openings` (a vault or a Ledger) opens the unit's SOH records (Annex XIII point 4: only salted roots
    are on-chain), each verified against its root before use; a record it does not open shows as "not
    disclosed to this tier" and its values, the battery condition and the lifetime figures are left out."""
    uid = id_bytes(unit_id)
    st = upstream_state(source, uid)
    open_records(st, soh_openings)
    unit = st.units.get(uid)
    if unit is None:
        raise errors.InvalidInput(f"{label_of(uid)} is not a battery unit")
    if unit.status == PassportStatus.RECYCLED:
        # Art. 77(8): the passport ceases to exist once the battery has been recycled; Battery Pass has no
        # "Recycled" status for the same reason.
        raise errors.InvalidInput(f"{label_of(uid)} has been recycled: its battery passport has ceased to exist (Art. 77(8))")
    decl = check_declarations(declarations)
    if art7 is None:
        art7 = Art7Parameters.from_mapping(decl.get("art7"))
    lot = st.lots[uid]
    when = judged_at(source, st, at)
    cid, ledger_addr = chain_context(source, chain_id, ledger_address)
    fp = footprint_of(st, uid, at=when)
    om = origin_mix_of(st, uid)
    lc = lifetime_carbon_of(st, uid, at=when)
    inv = process_inventory_of(st, uid, at=when)
    am = active_materials_of(st, uid)
    kwh = unit.rated_wh / 1000
    a7 = art7_figure(fp, kwh, art7)
    last = unit.soh[-1] if unit.soh else None
    parties = decl["parties"]

    def party(address: str) -> dict[str, Any]:
        # The ledger holds the account; its name and address are declared (names are only hashes on-chain).
        return {**copy.deepcopy(parties.get(address.lower(), {})), "identifier": address}

    disclosed = _identity(unit.serial_hash, uid, identity, tier)
    committed = disclosed.fields_verified.get("serialNumber") if disclosed else None
    serial = decl.get("serialNumber", committed)
    if committed is not None and str(serial) != committed:
        raise errors.InvalidInput(f"serialNumber {serial!r} is not the serial {label_of(uid)} was committed with")
    if committed is None and serial is not None and keccak(str(serial).encode()) != unit.serial_hash:
        # A unit written with a plain keccak(serial) (a caller's precomputed hash) still checks that way; a salted
        # one needs its opening: a guessed serial cannot be confirmed against it, which is the point.
        raise errors.InvalidInput(
            f"serialNumber {serial!r} does not match the serial hash {label_of(uid)} was registered with (a salted"
            " commitment checks only with the unit's identity record: its opening in the vault, or a disclosure)"
        )
    ident = decl.get("uniqueIdentifier")
    uid15459 = None
    if ident is not None:
        if serial is None:
            raise errors.InvalidInput("uniqueIdentifier needs the serialNumber (checked against the on-chain serial hash)")
        try:
            uid15459 = unique_identifier(str(ident["issuingAgencyCode"]), str(ident["companyIdentifier"]), str(serial))
        except (KeyError, TypeError):
            raise errors.InvalidInput("uniqueIdentifier needs issuingAgencyCode and companyIdentifier") from None
    url = passport_url(str(decl["passportBaseUrl"]), uid15459) if uid15459 is not None and decl.get("passportBaseUrl") else None
    gpi: dict[str, Any] = {
        # The ISO/IEC 15459 identifier when declared (Art. 77(3)); else a serial that hashes to the on-chain
        # commitment; else the unit's ledger label. Never the hash: no one can look a hash up.
        "productIdentifier": uid15459.text if uid15459 else str(serial) if serial is not None else label_of(uid),
        "batteryPassportIdentifier": passport_urn(uid),
        "batteryCategory": category or battery_category(st, uid),
        "manufacturerInformation": party(lot.creator),
        "manufacturingDate": iso_time(unit.timestamp),
        "batteryStatus": _STATUS_NAME[PassportStatus(unit.status)],
        "batteryMass": lot.mass0 / 1000,  # kg (BatteryMassMeasurable)
        "operatorInformation": party(lot.holder),
    }
    if unit.soh:
        gpi["puttingIntoService"] = iso_time(unit.soh[0].timestamp)  # first in-use record: the earliest the ledger knows
    cf: dict[str, Any] = {"absoluteCarbonFootprint": fp.kg_co2e}
    if a7.kg_co2e_per_kwh is not None:
        cf["batteryCarbonFootprint"] = a7.kg_co2e_per_kwh
        cf["carbonFootprintPerLifecycleStage"] = [
            {"lifecycleStage": BATTERYPASS_STAGE[s], "carbonFootprint": a7.stages[s]} for s in STAGES
        ]
        if a7.performance_class is not None:
            cf["carbonFootprintPerformanceClass"] = a7.performance_class
    circ = {
        # Shares in percent (Circularity: unit:percent, 0-100) of the element in the active materials (Art. 8).
        "recycledContent": [
            {
                "recycledMaterial": ELEMENT_NAME[e],
                "preConsumerShare": 100 * (s.pre_consumer_share or 0.0),
                "postConsumerShare": 100 * (s.post_consumer_share or 0.0),
            }
            for e, s in am.elements.items()
            if s.total_g
        ],
    }
    held_g = dict(zip(ELEMENTS, held_vector(lot)))
    mc = {
        "batteryMaterials": [
            {
                "batteryMaterialLocation": {"componentName": label_of(lot.material), "componentId": label_of(uid)},
                "batteryMaterialIdentifier": CAS_NUMBER[e],
                "batteryMaterialName": ELEMENT_NAME[e],
                "batteryMaterialMass": float(g),  # grams (MaterialComposition :Weight is unit:gram)
                "isCriticalRawMaterial": CRITICAL_RAW_MATERIAL[e],
            }
            for e, g in held_g.items()
            if g and e in CRITICAL_RAW_MATERIAL
        ],
    }
    condition: dict[str, Any] = {}
    if last is not None and last.opened is not None:
        # Only from an opening verified against the record's root: nothing is shown that the chain does not back.
        t, v = iso_time(last.timestamp), last.opened
        condition = {
            "energyThroughput": {"energyThroughputValue": v.throughput_wh / 1000, "lastUpdate": t},  # kWh
            "numberOfFullCycles": {"numberOfFullCyclesValue": v.cycles, "lastUpdate": t},
            "stateOfCertifiedEnergy": {"stateOfCertifiedEnergyValue": v.soce_bp / 100, "lastUpdate": t},  # percent
            "remainingEnergy": {"remainingEnergyValue": v.capacity_wh / 1000, "lastUpdate": t},  # kWh
        }
    perf: dict[str, Any] = {"batteryTechicalProperties": {"ratedEnergy": kwh}}  # kWh; the model's spelling
    if condition:
        perf["batteryCondition"] = condition
    held = {
        "generalProductInformation": gpi,
        "carbonFootprint": cf,
        "circularity": circ,
        "materialComposition": mc,
        "labels": {},
        "performanceAndDurability": perf,
        "supplyChainDueDiligence": {},
    }
    doc: dict[str, Any] = {k: merge_declared(held[k], decl.get(k), k) for k in ASPECTS}
    doc[EXTENSION] = {
        "rinne": {
            "chainId": cid,
            "ledger": ledger_addr,
            "unitId": "0x" + uid.hex(),
            "label": label_of(uid),
            "serialHash": "0x" + unit.serial_hash.hex(),
            **({"identity": disclosed.disclosure.model_dump(mode="json")} if disclosed else {}),
            **(
                {
                    "uniqueIdentifier": {
                        "text": uid15459.text,
                        "symbolData": uid15459.symbol_data,
                        "issuingAgencyCode": uid15459.issuing_agency_code,
                        "companyIdentifier": uid15459.company_identifier,
                        "serial": uid15459.serial,
                    }
                }
                if uid15459
                else {}
            ),
            **({"passportUrl": url} if url else {}),
            "aspectModels": {k: urn for k, (urn, _) in ASPECTS.items()},
            # Required members neither the ledger nor a declaration supplied: left out, never invented.
            "missingRequiredMembers": {
                k: [m for m in REQUIRED[k] if m not in doc[k]] for k in ASPECTS if any(m not in doc[k] for m in REQUIRED[k])
            },
            "parentPassports": [passport_urn(p) for p in unit.parents],
            # Both ways, for any operation kind: what this battery was made from and what was made from it.
            "passportLinks": passport_links(st, uid),
            "assurance": fp.assurance,
            "weakestLinks": fp.weakest,
            # Every attestation behind the footprint, judged as the footprint judged it (Annex XIII point 3).
            "attestations": attestation_entries(fp),
            "excludedKgCo2e": fp.excluded_kg,
            "footprintJudgedAt": iso_time(when),
            "art7": {
                "kgCo2ePerKwhLifetimeEnergy": a7.kg_co2e_per_kwh,
                "lifetimeEnergyKwh": a7.lifetime_kwh,
                "usableEnergyKwh": a7.usable_energy_kwh,
                "usableEnergyBasis": a7.usable_energy_basis,
                "cyclesPerYear": a7.cycles_per_year,
                "cyclesPerYearBasis": a7.cycles_basis,
                "serviceYears": a7.service_years,
                "missing": list(a7.missing),
                "method": "draft delegated act on the carbon footprint of EV batteries (April 2024): "
                "footprint / (usable energy x full cycles per year x years of service)",
            },
            # The per-rated-kWh cradle-to-gate intensity: another figure, not the Art. 7 declaration.
            "cradleToGateKgCo2ePerRatedKwh": fp.per_kwh.kg_co2e_per_kwh if fp.per_kwh else None,
            "cradleToGateStagesKgCo2ePerRatedKwh": dict(fp.per_kwh.stages) if fp.per_kwh else None,
            "activeMaterials": {
                **(
                    {}
                    if am.lots
                    else {
                        "note": "no cells made or brought in by a cell maker upstream: the active materials "
                        "cannot be identified, so the Art. 8 shares are left out"
                    }
                ),
                "lots": [
                    {"lotId": "0x" + x.hex(), "label": label_of(x), "fractionReachingUnit": f, "basis": am.basis[x]}
                    for x, f in sorted(am.lots.items(), key=lambda kv: st.lots[kv[0]].pos)
                ],
                "elementsG": {
                    e: {"total": s.total_g, "preConsumer": s.pre_consumer_g, "postConsumer": s.post_consumer_g}
                    for e, s in am.elements.items()
                },
            },
            "art8Targets": am.targets,
            # Shares in percent here too, like every share in the aspects (one convention per document).
            "originOfMaterials": [
                {"element": e, "countrySharesPercent": {c: 100 * f for c, f in shares.items()}, "grams": om.grams.get(e, {})}
                for e, shares in om.shares.items()
            ],
            "statusHistory": [
                {"at": iso_time(ts), "from": PassportStatus(f).name.title(), "to": PassportStatus(t).name.title()}
                for ts, _, f, t, _ in unit.statuses
            ],
            "stateOfHealthHistory": [soh_entry(r) for r in unit.soh],
            "lifetimeCarbon": {
                "deliveredKwh": lc.delivered_kwh,
                "kgCo2ePerKwhDelivered": lc.kg_co2e_per_kwh_delivered,
                "lives": lc.lives,
                **({"undisclosedRecords": lc.undisclosed_records, "note": NOT_DISCLOSED} if lc.undisclosed_records else {}),
            },
            "processInventory": inventory_entry(inv, a7.lifetime_kwh),
        }
    }
    return filter_tier(doc, tier)


def soh_entry(r: SohRec) -> dict[str, Any]:
    """One SOH record of ``extensions.rinne.stateOfHealthHistory``: its on-chain root and claim of use, and its
    values only from an opening verified against that root (else ``"values": "not disclosed to this tier"``)."""
    entry: dict[str, Any] = {"at": iso_time(r.timestamp), "recorder": r.recorder, "root": "0x" + r.root.hex(), "used": r.used}
    v = r.opened
    if v is None:
        entry["values"] = NOT_DISCLOSED
        return entry
    entry.update(
        {
            "socePercent": v.soce_bp / 100,
            "remainingEnergyKwh": v.capacity_wh / 1000,
            "fullCycles": v.cycles,
            "energyThroughputKwh": v.throughput_wh / 1000,
            "document": v.document,
        }
    )
    return entry


def inventory_entry(inv: ProcessInventoryReport, lifetime_kwh: float | None = None) -> dict[str, Any]:
    """The passport's ``extensions.rinne.processInventory``: cradle-to-gate energy, its renewable share and water
    (docs/methodology.md §10), also per kWh of the Art. 7 lifetime energy when its parameters are known. Battery Pass ``circularity.renewableContent`` is the share of renewable *material*
    (DIN DKE Spec 99100 6.6.2.11), not of renewable energy, so the energy share is reported here, never there."""
    pk = inv.per_kwh
    return {
        "energyKwh": inv.energy_kwh,
        "renewableEnergyKwh": inv.renewable_kwh,
        "renewableEnergySharePercent": 100 * inv.renewable_share if inv.renewable_share is not None else None,
        "waterWithdrawnM3": inv.water_withdrawn_m3,
        "waterConsumedM3": inv.water_consumed_m3,
        "routesKwh": inv.routes,
        "energyKwhPerRatedKwh": pk.energy_kwh_per_kwh if pk else None,
        "waterConsumedM3PerRatedKwh": pk.water_consumed_m3_per_kwh if pk else None,
        "energyKwhPerKwhDelivered": pk.energy_kwh_per_kwh_delivered if pk else None,
        # The Art. 7 functional unit (usable energy x cycles per year x years of service), as the footprint's `art7`.
        "energyKwhPerKwhLifetimeEnergy": inv.energy_kwh / lifetime_kwh if lifetime_kwh else None,
        "waterConsumedM3PerKwhLifetimeEnergy": inv.water_consumed_m3 / lifetime_kwh if lifetime_kwh else None,
        "assurance": inv.assurance,
        "weakestLinks": inv.weakest,
        "excludedEnergyKwh": inv.excluded_energy_kwh,
    }


def passport_qr(passport: dict[str, Any], kind: str = "svg") -> bytes:
    """Return the QR code (Art. 77(3)) of a passport export's URL as SVG or PNG bytes.

    The URL is the one built from the declared ISO/IEC 15459 identifier (``extensions.rinne.passportUrl``);
    an export without one has no QR code to print (:class:`~ledger.errors.InvalidInput`).
    """
    import io

    import segno

    url = passport.get(EXTENSION, {}).get("rinne", {}).get("passportUrl")
    if not url:
        raise errors.InvalidInput(
            "this passport has no URL to encode: declare uniqueIdentifier, serialNumber and passportBaseUrl (--declarations)"
        )
    if kind not in ("svg", "png"):
        raise errors.InvalidInput(f"a QR code is written as svg or png, not {kind!r}")
    buf = io.BytesIO()
    # Error correction M (15 %): a label on a battery gets scratched; the scale suits print and screen.
    segno.make(url, error="m", micro=False).save(
        buf, kind=kind, scale=4, border=4, **({"xmldecl": False, "svgns": True} if kind == "svg" else {})
    )
    return buf.getvalue()
