"""Passport export: a battery passport shaped after the Battery Pass data model v1.2 attribute groups,
and a PACT-shaped product footprint for any lot. The field-by-field mapping is in
docs/passport-mapping.md; everything comes from the replayed events, nothing from a form.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from ledger import errors
from ledger.index import EventIndex
from ledger.models import LotKind, OpKind, PassportStatus, label_of, origin_country
from ledger.provenance import (
    STAGES,
    Source,
    _b32,
    _now,
    _upstream_state,
    cut_off,
    footprint_of,
    lifetime_carbon_of,
    origin_mix_of,
    recycled_content_of,
)

#: Battery Pass v1.2 ``lifecycleStage`` values for the four Art. 7 stages.
BATTERYPASS_STAGE = {
    "raw_material_acquisition": "RawMaterialExtraction",
    "main_production": "MainProduction",
    "distribution": "Distribution",
    "end_of_life": "Recycling",
}
_MATERIAL_NAME = {"Co": "Cobalt", "Ni": "Nickel", "Li": "Lithium"}
_STATUS_NAME = {
    PassportStatus.ORIGINAL: "Original", PassportStatus.REUSED: "Reused", PassportStatus.REPURPOSED: "Repurposed",
    PassportStatus.REMANUFACTURED: "Remanufactured", PassportStatus.WASTE: "Waste", PassportStatus.RECYCLED: "Recycled",
}
PACT_SPEC_VERSION = "2.2.0"
#: dataSchema of the Rinne extension inside PACT footprints (lot id and mass, so an audit can match it).
PACT_EXTENSION_SCHEMA = "urn:rinne:pact-extension:1"
_NAMESPACE = uuid.UUID("6f0c4c55-5b0e-4f44-9d2a-7e1b2c0d9a31")


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _context(source: Source, chain_id: int | None, ledger_address: str | None) -> tuple[int, str]:
    if isinstance(source, EventIndex) and source.deployment is not None:
        d = source.deployment
        return chain_id or d.chain_id, (ledger_address or d.ledger)
    return chain_id or 0, ledger_address or "0x" + "00" * 20


def passport_urn(unit_id: bytes) -> str:
    """Return the battery passport identifier of a unit (``urn:rinne:<hex id>``, the v1.2 URN pattern)."""
    return "urn:rinne:" + unit_id.hex()


def pcf_id(chain_id: int, ledger_address: str, lot_id: bytes) -> str:
    """Return the PACT footprint id of a lot: a UUID derived from chain, ledger and lot (stable across exports)."""
    return str(uuid.uuid5(_NAMESPACE, f"{chain_id}:{ledger_address.lower()}:{lot_id.hex()}"))


def battery_passport(
    source: Source,
    unit_id: str | bytes,
    *,
    at: int | None = None,
    category: str | None = None,
    chain_id: int | None = None,
    ledger_address: str | None = None,
) -> dict[str, Any]:
    """Export a battery unit's passport as JSON-ready data shaped after the Battery Pass data model
    v1.2 groups: general product information (identity, status), carbon footprint (per kWh, per Art. 7
    stage), circularity (recycled content pre/post-consumer), performance and durability (SOH with
    last-update times) and supply-chain due diligence (origin of materials). `category` defaults to
    "stationary" for a repurposed unit and "ev" otherwise."""
    uid = _b32(unit_id)
    st = _upstream_state(source, uid)
    unit = st.units.get(uid)
    if unit is None:
        raise errors.InvalidInput(f"{label_of(uid)} is not a battery unit")
    lot = st.lots[uid]
    when = _now(source, st, at)
    cid, ledger_addr = _context(source, chain_id, ledger_address)
    fp = footprint_of(st, uid, at=when)
    rc = recycled_content_of(st, uid)
    om = origin_mix_of(st, uid)
    lc = lifetime_carbon_of(st, uid, at=when)
    kwh = unit.rated_wh / 1000
    last = unit.soh[-1] if unit.soh else None
    builder = lot.creator
    second_life = bool(unit.parents) or (lot.made_by is not None and st.ops[lot.made_by].kind == OpKind.REPURPOSE)
    status = _STATUS_NAME.get(PassportStatus(unit.status), PassportStatus(unit.status).name.title())
    return {
        "generalProductInformation": {
            "productIdentifier": "0x" + unit.serial_hash.hex(),
            "batteryPassportIdentifier": passport_urn(uid),
            "batteryCategory": category or ("stationary" if second_life else "ev"),
            "manufacturerInformation": {"identifier": builder},
            "manufacturingDate": _iso(unit.timestamp),
            "batteryStatus": status,
            "batteryMass": lot.mass0 / 1000,
            "operatorInformation": {"identifier": lot.holder},
            "puttingIntoService": _iso(unit.soh[0].timestamp) if unit.soh else None,
        },
        "carbonFootprint": {
            "batteryCarbonFootprint": fp.per_kwh.kg_co2e_per_kwh if fp.per_kwh else None,
            "carbonFootprintPerLifecycleStage": [
                {"lifecycleStage": BATTERYPASS_STAGE[s], "carbonFootprint": (fp.stages[s] / kwh) if kwh else None} for s in STAGES
            ],
            "carbonFootprintPerformanceClass": None,
            "carbonFootprintStudy": None,
            "absoluteCarbonFootprint": fp.kg_co2e,
        },
        "circularity": {
            "recycledContent": [
                {
                    "recycledMaterial": _MATERIAL_NAME[e.element],
                    "preConsumerShare": 100 * (e.pre_consumer_share or 0.0),
                    "postConsumerShare": 100 * (e.post_consumer_share or 0.0),
                }
                for e in rc.elements
                if e.element in _MATERIAL_NAME and e.total_g
            ],
        },
        "performanceAndDurability": {
            "batteryTechicalProperties": {"ratedEnergy": kwh},
            "batteryCondition": {
                "energyThroughput": (last.throughput_wh / 1000) if last else 0.0,
                "numberOfFullCycles": {"numberOfFullCyclesValue": last.cycles if last else 0, "lastUpdate": _iso(last.timestamp) if last else None},
                "stateOfCertifiedEnergy": {
                    "stateOfCertifiedEnergyValue": last.soce_bp / 100 if last else None,
                    "lastUpdate": _iso(last.timestamp) if last else None,
                },
                "remainingEnergy": {
                    "remainingEnergyalue": last.capacity_wh / 1000 if last else None,
                    "lastUpdate": _iso(last.timestamp) if last else None,
                },
            },
        },
        "supplyChainDueDiligence": {
            "supplyChainDueDiligenceReport": None,
            "thirdPartyAussurances": None,
            "euTaxonomyDisclosureStatement": None,
            "sustainabilityReport": None,
            "originOfMaterials": [
                {"element": e, "countryShares": shares, "grams": om.grams.get(e, {})} for e, shares in om.shares.items()
            ],
        },
        "extensions": {
            "rinne": {
                "chainId": cid,
                "ledger": ledger_addr,
                "unitId": "0x" + uid.hex(),
                "label": label_of(uid),
                "parentPassports": [passport_urn(p) for p in unit.parents],
                "assurance": fp.assurance,
                "weakestLinks": fp.weakest,
                "excludedKgCo2e": fp.excluded_kg,
                "footprintJudgedAt": _iso(when),
                "art8Targets": [t.model_dump() for t in rc.targets],
                "statusHistory": [
                    {"at": _iso(ts), "from": PassportStatus(f).name.title(), "to": PassportStatus(t).name.title()}
                    for ts, _, f, t, _ in unit.statuses
                ],
                "stateOfHealthHistory": [
                    {
                        "at": _iso(r.timestamp), "soce": r.soce_bp / 100, "remainingEnergyKwh": r.capacity_wh / 1000,
                        "fullCycles": r.cycles, "energyThroughputKwh": r.throughput_wh / 1000, "recorder": r.recorder,
                        "evidence": "0x" + r.evidence.hex(),
                    }
                    for r in unit.soh
                ],
                "lifetimeCarbon": {
                    "deliveredKwh": lc.delivered_kwh, "kgCo2ePerKwhDelivered": lc.kg_co2e_per_kwh_delivered, "lives": lc.lives,
                },
            }
        },
    }


def pact_footprint(
    source: Source,
    lot_id: str | bytes,
    *,
    at: int | None = None,
    company_name: str | None = None,
    chain_id: int | None = None,
    ledger_address: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """Export a lot's cradle-to-gate footprint as a PACT (Pathfinder) ProductFootprint: declared unit
    kilogram, ``pCfExcludingBiogenic`` per kg, ``precedingPfIds`` of the inputs whose footprint it
    includes, and the assurance of its weakest link."""
    lid = _b32(lot_id)
    st = _upstream_state(source, lid)
    lot = st.lots[lid]
    when = _now(source, st, at)
    cid, ledger_addr = _context(source, chain_id, ledger_address)
    fp = footprint_of(st, lid, at=when)
    preceding: list[str] = []
    if lot.made_by is not None:
        op = st.ops[lot.made_by]
        preceding = [pcf_id(cid, ledger_addr, i) for i in op.inputs if not cut_off(st, op, i)]
    counted = [a for c in fp.contributions for a in c.attestations if a.status in ("verified", "self-declared")]
    issued = [st.attestations[bytes.fromhex(a.uid[2:])].issued_at for a in counted]
    verified_kg = sum(c.kg_co2e for c in fp.contributions if c.assurance == "verified")
    methodologies = sorted({a.methodology for a in counted if a.methodology})
    signers = sorted({a.signer for a in counted})
    mass_kg = lot.mass0 / 1000
    per_kg = fp.kg_co2e / mass_kg if mass_kg else 0.0
    doc: dict[str, Any] = {
        "id": pcf_id(cid, ledger_addr, lid),
        "specVersion": PACT_SPEC_VERSION,
        "version": 0,
        "created": _iso(created if created is not None else when),
        "status": "Active",
        "validityPeriodStart": _iso(when),
        "companyName": company_name or lot.holder,
        "companyIds": [f"urn:rinne:participant:{lot.holder.lower()}"],
        "productDescription": f"{label_of(lot.material)} lot {label_of(lid)}",
        "productIds": [f"urn:rinne:lot:{cid}:{lid.hex()}"],
        "productNameCompany": label_of(lid),
        "comment": "Cradle-to-gate from the Rinne ledger: attested step emissions plus consumed inputs allocated by tracked-element mass; "
                   "recycled input cut off (recovered lots carry only the recycling burden).",
        "pcf": {
            "declaredUnit": "kilogram",
            "unitaryProductAmount": mass_kg,
            "pCfExcludingBiogenic": per_kg,
            "fossilGhgEmissions": per_kg,
            "fossilCarbonContent": 0,
            "biogenicCarbonContent": 0,
            "characterizationFactors": "AR6",
            "ipccCharacterizationFactorsSources": ["AR6"],
            "crossSectoralStandardsUsed": methodologies or ["ISO Standard 14067"],
            "productOrSectorSpecificRules": [],
            "boundaryProcessesDescription": "Cradle-to-gate; consumed inputs allocated by tracked-element mass (declared loss carries none); cut-off for post-consumer recycled input.",
            "referencePeriodStart": _iso(min(issued)) if issued else _iso(lot.timestamp),
            "referencePeriodEnd": _iso(max(issued)) if issued else _iso(lot.timestamp),
            "exemptedEmissionsPercent": 0,
            "exemptedEmissionsDescription": "",
            "packagingEmissionsIncluded": False,
            "primaryDataShare": 100 * verified_kg / fp.kg_co2e if fp.kg_co2e else 0.0,
            "assurance": {
                "assurance": fp.assurance in ("verified", "n/a") and fp.excluded_kg == 0,
                "coverage": "product line" if lot.kind == LotKind.UNIT else "PCF program",
                "level": "limited",
                "boundary": "Cradle-to-Gate",
                "providerName": ", ".join(signers) if signers else "none",
                "standardName": ", ".join(methodologies) if methodologies else "none",
                "comments": f"weakest link: {fp.assurance} ({', '.join(label_of(w) for w in fp.weakest) or 'none'})",
            },
        },
        "extensions": [
            {
                "specVersion": "2.0.0",
                "dataSchema": PACT_EXTENSION_SCHEMA,
                "data": {
                    "chainId": cid, "ledger": ledger_addr, "lotId": "0x" + lid.hex(), "massKg": mass_kg,
                    "kgCo2eTotal": fp.kg_co2e, "stagesKgCo2e": fp.stages, "assuranceLevel": fp.assurance,
                    "weakestLinks": fp.weakest, "excludedKgCo2e": fp.excluded_kg, "judgedAt": _iso(when),
                },
            }
        ],
    }
    country = origin_country(lot.origin)
    if country:
        doc["pcf"]["geographyCountry"] = country
    if preceding:
        doc["precedingPfIds"] = preceding
    return doc


def passport_html(passport: dict[str, Any]) -> str:
    """Return a self-contained HTML page of a battery passport export."""
    from ledger._html import _e as _esc
    from ledger._html import json_block, page, table

    g = passport["generalProductInformation"]
    cf = passport["carbonFootprint"]
    rinne = passport["extensions"]["rinne"]
    per_kwh = cf["batteryCarbonFootprint"]
    header = (
        f"<h1>Battery passport {_esc(rinne['label'])}</h1><div class=\"sub\">{_esc(g['batteryPassportIdentifier'])} · status "
        f"<b id=\"status\">{_esc(g['batteryStatus'])}</b> · rated {passport['performanceAndDurability']['batteryTechicalProperties']['ratedEnergy']:g} kWh</div>"
    )
    cf_text = f"{per_kwh:.3f} kg CO2e/kWh ({cf['absoluteCarbonFootprint']:.1f} kg CO2e)" if per_kwh is not None else "unknown"
    body = (
        header
        + f"<h2>Carbon footprint</h2><p id=\"cf-per-kwh\">{cf_text} · assurance <b id=\"assurance\">{_esc(rinne['assurance'])}</b></p>"
        + table(
            ["stage", "kg CO2e/kWh"],
            [(s["lifecycleStage"], f"{s['carbonFootprint']:.4f}") for s in cf["carbonFootprintPerLifecycleStage"] if s["carbonFootprint"] is not None],
            id="stages",
        )
        + "<h2>Recycled content</h2>"
        + table(
            ["material", "pre-consumer %", "post-consumer %"],
            [(r["recycledMaterial"], f"{r['preConsumerShare']:.2f}", f"{r['postConsumerShare']:.2f}") for r in passport["circularity"]["recycledContent"]],
            id="recycled",
        )
        + "<h2>Full export</h2>"
        + json_block(passport)
    )
    return page(f"Battery passport {rinne['label']}", body)


__all__ = ["BATTERYPASS_STAGE", "PACT_EXTENSION_SCHEMA", "PACT_SPEC_VERSION", "battery_passport", "pact_footprint", "passport_html",
           "passport_urn", "pcf_id"]
