"""PACT product carbon footprints of a lot (Technical Specification 3.0, and 2.2 for partners not yet on 3.0)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger.domain.composition import ELEMENTS
from ledger.domain.enums import LotKind, LotState
from ledger.domain.ids import id_bytes, label_of, origin_country
from ledger.domain.times import iso_time
from ledger.exports.common import chain_context, held_vector
from ledger.exports.pact import PACT_SPEC_VERSION, decimal_string, standards_of
from ledger.exports.passport import PACT_V2_SPEC_VERSION
from ledger.figures.footprint import cut_off, footprint_of
from ledger.figures.inventory import process_inventory_of
from ledger.figures.source import Source, judged_at, upstream_state

if TYPE_CHECKING:
    from ledger.figures.footprint import Footprint
    from ledger.replay.records import LotRec
    from ledger.replay.state import LedgerState

#: dataSchema of the Rinne extension inside PACT footprints (lot id and mass, so an audit can match it).
PACT_EXTENSION_SCHEMA = "urn:rinne:pact-extension:1"
#: dataSchema of the second Rinne extension: the process inventory behind the footprint (issue 19).
PACT_INVENTORY_SCHEMA = "urn:rinne:pact-extension:process-inventory:1"


def inventory_extension(st: LedgerState, lot_id: bytes, when: int) -> dict[str, Any]:
    """The PACT extension with a lot's cradle-to-gate energy, renewable share and water (docs/methodology.md §10),
    per declared unit like the footprint (per kg of a material lot, per piece of a unit)."""
    inv = process_inventory_of(st, lot_id, at=when)
    lot = st.lots[lot_id]
    per = 1.0 if lot.kind == LotKind.UNIT else (lot.mass0 if lot.state == LotState.CONSUMED else lot.mass) / 1000
    per = per or 1.0
    return {
        "specVersion": "2.0.0",
        "dataSchema": PACT_INVENTORY_SCHEMA,
        "data": {
            "declaredUnit": "piece" if lot.kind == LotKind.UNIT else "kilogram",
            "energyKwhPerDeclaredUnit": inv.energy_kwh / per,
            "renewableEnergySharePercent": 100 * inv.renewable_share if inv.renewable_share is not None else None,
            "waterWithdrawnM3PerDeclaredUnit": inv.water_withdrawn_m3 / per,
            "waterConsumedM3PerDeclaredUnit": inv.water_consumed_m3 / per,
            "routesKwh": inv.routes,
            "assuranceLevel": inv.assurance,
            "excludedEnergyKwh": inv.excluded_energy_kwh,
        },
    }


_NAMESPACE = uuid.UUID("6f0c4c55-5b0e-4f44-9d2a-7e1b2c0d9a31")


def pcf_id(chain_id: int, ledger_address: str, lot_id: bytes) -> str:
    """Return the PACT footprint id of a lot: a UUID derived from chain, ledger and lot (stable across exports)."""
    return str(uuid.uuid5(_NAMESPACE, f"{chain_id}:{ledger_address.lower()}:{lot_id.hex()}"))


class _PactBasis(NamedTuple):
    """What both PACT exports of a lot rest on: its replayed upstream, its footprint now, the footprint ids
    of the inputs whose burden it carries, and the attestations counted in it."""

    lid: bytes
    st: LedgerState
    lot: LotRec
    when: int
    cid: int
    ledger_addr: str
    fp: Footprint
    inputs: list[str]
    issued: list[int]
    verified_kg: float
    methodologies: list[str]
    signers: list[str]


def _pact_basis(source: Source, lot_id: str | bytes, at: int | None, chain_id: int | None, ledger_address: str | None) -> _PactBasis:
    lid = id_bytes(lot_id)
    st = upstream_state(source, lid)  # refuses an unknown lot
    lot = st.lots[lid]
    when = judged_at(source, st, at)
    cid, ledger_addr = chain_context(source, chain_id, ledger_address)
    fp = footprint_of(st, lid, at=when)
    inputs: list[str] = []
    if lot.made_by is not None:
        op = st.ops[lot.made_by]
        inputs = [pcf_id(cid, ledger_addr, i) for i in op.inputs if not cut_off(st, op, i)]
    counted = [a for c in fp.contributions for a in c.attestations if a.status in ("verified", "self-declared")]
    return _PactBasis(
        lid=lid,
        st=st,
        lot=lot,
        when=when,
        cid=cid,
        ledger_addr=ledger_addr,
        fp=fp,
        inputs=inputs,
        issued=[st.attestations[bytes.fromhex(a.uid[2:])].issued_at for a in counted],
        verified_kg=sum(c.kg_co2e for c in fp.contributions if c.assurance == "verified"),
        methodologies=sorted({a.methodology for a in counted if a.methodology}),
        signers=sorted({a.signer for a in counted}),
    )


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
    b = _pact_basis(source, lot_id, at, chain_id, ledger_address)
    lid, lot, when, cid, ledger_addr, fp = b.lid, b.lot, b.when, b.cid, b.ledger_addr, b.fp
    preceding, issued, verified_kg, methodologies, signers = b.inputs, b.issued, b.verified_kg, b.methodologies, b.signers
    mass_kg = fp.mass_g / 1000  # what the lot holds now, as the footprint describes it
    per_kg = fp.kg_co2e / mass_kg if mass_kg else 0.0
    doc: dict[str, Any] = {
        "id": pcf_id(cid, ledger_addr, lid),
        "specVersion": PACT_V2_SPEC_VERSION,
        "version": 0,
        "created": iso_time(created if created is not None else when),
        "status": "Active",
        "validityPeriodStart": iso_time(when),
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
            "referencePeriodStart": iso_time(min(issued)) if issued else iso_time(lot.timestamp),
            "referencePeriodEnd": iso_time(max(issued)) if issued else iso_time(lot.timestamp),
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
                    "chainId": cid,
                    "ledger": ledger_addr,
                    "lotId": "0x" + lid.hex(),
                    "massKg": mass_kg,
                    "kgCo2eTotal": fp.kg_co2e,
                    "stagesKgCo2e": fp.stages,
                    "assuranceLevel": fp.assurance,
                    "weakestLinks": fp.weakest,
                    "excludedKgCo2e": fp.excluded_kg,
                    "judgedAt": iso_time(when),
                },
            },
            inventory_extension(b.st, lid, when),
        ],
    }
    country = origin_country(lot.origin)
    if country:
        doc["pcf"]["geographyCountry"] = country
    if preceding:
        doc["precedingPfIds"] = preceding
    return doc


def pact_footprint_v3(
    source: Source,
    lot_id: str | bytes,
    *,
    at: int | None = None,
    company_name: str | None = None,
    chain_id: int | None = None,
    ledger_address: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """Export a lot's cradle-to-gate footprint as a PACT 3.0 ProductFootprint (spec/v3 of the PACT Technical
    Specification; checked by :func:`ledger.exports.pact.conformance_errors`); the default export, with
    :func:`pact_footprint` (2.2.0) kept for partners not yet on 3.0.

    Declared unit: one kilogram of a material lot, one piece of a battery unit. Every number is a decimal
    string. ``verification`` is present only when every contributing attestation is verified and none was
    excluded. The footprint ids of the inputs whose burden the lot carries are in the Rinne extension
    (``inputPfIds``): in PACT 3.0 ``precedingPfIds`` names earlier versions of the same footprint, not inputs."""
    b = _pact_basis(source, lot_id, at, chain_id, ledger_address)
    lid, lot, when, cid, ledger_addr, fp = b.lid, b.lot, b.when, b.cid, b.ledger_addr, b.fp
    inputs, issued, verified_kg, methodologies, signers = b.inputs, b.issued, b.verified_kg, b.methodologies, b.signers
    standards, unmapped = standards_of(methodologies)
    if "ISO14040-44" not in standards:
        # Rinne's own aggregation allocates by physical relationship per ISO 14044 §4.3.4.2 (docs/methodology.md §1).
        standards.append("ISO14040-44")
    mass_kg = fp.mass_g / 1000
    is_unit = lot.kind == LotKind.UNIT
    # Declared unit (PACT 3.0 CarbonFootprint.declaredUnitOfMeasurement): a battery is a piece; a material
    # lot is declared per kilogram, amount 1 (bulk supply: "the value MUST be 1").
    per_unit = fp.kg_co2e if is_unit else fp.kg_co2e_per_kg
    mass_per_unit = mass_kg if is_unit else 1.0
    carbon_g = dict(zip(ELEMENTS, held_vector(lot)))["C"]
    carbon_per_unit = carbon_g / 1000 if is_unit else (carbon_g / 1000 / mass_kg if mass_kg else 0.0)
    ref_start = iso_time(min(issued)) if issued else iso_time(lot.timestamp)
    ref_end = iso_time(max(issued)) if issued else iso_time(lot.timestamp)
    cf: dict[str, Any] = {
        "declaredUnitOfMeasurement": "piece" if is_unit else "kilogram",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": decimal_string(mass_per_unit),
        "referencePeriodStart": ref_start,
        "referencePeriodEnd": ref_end,
        "boundaryProcessesDescription": "Cradle-to-gate: the attested step emissions of the lot and of every upstream lot, "
        "consumed inputs allocated by tracked-element mass (declared loss carries none); post-consumer recycled input cut off.",
        # The ledger's attestations carry kg CO2e with no biogenic split; battery materials hold no biogenic carbon,
        # so uptake is zero and both totals are the fossil total (BIO rule: 0 if not applicable).
        "pcfExcludingBiogenicUptake": decimal_string(per_unit),
        "pcfIncludingBiogenicUptake": decimal_string(per_unit),
        "fossilGhgEmissions": decimal_string(per_unit),
        # Carbon the lot holds (graphite, carbon black: not biogenic), from its element vector.
        "fossilCarbonContent": decimal_string(carbon_per_unit),
        "biogenicCarbonContent": "0",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": standards,
        "exemptedEmissionsPercent": "0",
        "exemptedEmissionsDescription": "",
        "allocationRulesDescription": "Outputs of an operation share its burden by tracked-element mass (ISO 14044 4.3.4.2, a physical "
        "relationship); a part of a lot takes the lot's footprint pro rata; recycling of a post-consumer unit is cut off.",
        "packagingEmissionsIncluded": False,
        "primaryDataShare": decimal_string(100 * verified_kg / fp.kg_co2e if fp.kg_co2e else 0.0),
    }
    country = origin_country(lot.origin)
    if country:
        cf["geographyCountry"] = country
    if fp.assurance in ("verified", "n/a") and fp.excluded_kg == 0 and signers:
        cf["verification"] = {
            "coverage": "product level",
            "providerName": ", ".join(signers),
            "completedAt": ref_end,
            "standardName": ", ".join(methodologies) if methodologies else "none",
            "comments": "every contributing step attested by an accredited GWP verifier (EIP-712, checked on-chain)",
        }
    doc: dict[str, Any] = {
        "id": pcf_id(cid, ledger_addr, lid),
        "specVersion": PACT_SPEC_VERSION,
        "created": iso_time(created if created is not None else when),
        "status": "Active",
        "validityPeriodStart": max(iso_time(when) or "", ref_end or ""),
        "companyName": company_name or lot.holder,
        "companyIds": [f"urn:rinne:participant:{lot.holder.lower()}"],
        "productDescription": f"{label_of(lot.material)} lot {label_of(lid)}",
        "productIds": [f"urn:rinne:lot:{cid}:{lid.hex()}"],
        "productNameCompany": label_of(lid),
        "comment": "Cradle-to-gate from the Rinne ledger: attested step emissions plus consumed inputs allocated by tracked-element mass; "
        "recycled input cut off (recovered lots carry only the recycling burden).",
        "pcf": cf,
        "extensions": [
            {
                "specVersion": "2.0.0",
                "dataSchema": PACT_EXTENSION_SCHEMA,
                "data": {
                    "chainId": cid,
                    "ledger": ledger_addr,
                    "lotId": "0x" + lid.hex(),
                    "massKg": mass_kg,
                    "kgCo2eTotal": fp.kg_co2e,
                    "stagesKgCo2e": fp.stages,
                    "assuranceLevel": fp.assurance,
                    "weakestLinks": fp.weakest,
                    "excludedKgCo2e": fp.excluded_kg,
                    "judgedAt": iso_time(when),
                    "inputPfIds": inputs,
                    "unmappedMethodologies": unmapped,
                },
            },
            inventory_extension(b.st, lid, when),
        ],
    }
    return doc
