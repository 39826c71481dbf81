"""The access-control matrix: every state-changing function of RinneLedger (with its registry) and
GwpAttestations, called by every role, the admin, a registered party with no roles, a suspended
party and an unregistered address, is allowed or refused exactly as the design says
(tests/security/access_spec.py).

"Allowed" means the call succeeds (as an eth_call from that address, on a world where the caller's
own lots, offers, units and attestations exist); "refused" means it reverts with an authorization
error (AUTH_ERRORS), never with some other error that would hide whether the gate works.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from access_spec import AUTH_ERRORS, CALLERS, CASES, DEVIATIONS, Caller, Case, expected
from conftest import call_as, resync
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import (
    Composition,
    GwpAttestation,
    LifeCycleStage,
    LotSpec,
    PassportStatus,
    ProcessInventory,
    Role,
    SohRecord,
    UnitSpec,
    sign_attestation,
    sign_inventory,
)
from ledger.attest.eip712 import to_contract_args
from ledger.attest.inventory import to_inventory_args
from ledger.chain.rpc import call
from ledger.domain.ids import to_bytes32

pytestmark = pytest.mark.chain

ORE = Composition.of({"Ni": 100, "Co": 10})
CELLS = Composition.of({"Li": 10, "Ni": 50, "Co": 5})
ZERO = b"\0" * 32
ZERO_WORDS = ([0, 0], [0, 0], [0, 0])
# SOH of the matrix's 1 kWh units: the record made in the world, a next one, a correction of the first.
SOH_BEFORE = SohRecord(soce_bp=9_500, capacity_wh=950, cycles=5, throughput_wh=5_000)
# What goes on-chain of an SOH record: a salted root (any non-zero word to the contract) and the claim of use.
SOH_NEXT = (b"\x01" * 32, True)
SOH_FIXED = (b"\x02" * 32, True)
NO_LOSS = [0, 0]

# Conftest parties standing for the role columns.
ROLE_PARTY = {
    "miner": "miner",
    "refiner": "refiner",
    "precursor_maker": "precursor",
    "cathode_maker": "cathode",
    "cell_maker": "cells",
    "pack_assembler": "packs",
    "oem": "oem",
    "second_life": "second_life",
    "diagnostician": "diagnostician",
    "recycler": "recycler",
    "gwp_verifier": "verifier",
    "auditor": "auditor",
}


def b32(label: str) -> bytes:
    return bytes.fromhex(to_bytes32(label)[2:])


def whole(lot_id: str, material: str, comp: Composition) -> tuple[Any, ...]:
    return (b32(lot_id), b32(material), comp.words(), 0, ZERO_WORDS)


def spec(lot_id: str, material: str, comp: Composition, mass: int = 1000) -> tuple[Any, ...]:
    return LotSpec(lot_id=lot_id, material=material, mass=mass, composition=comp).abi()


@dataclass
class World:
    """The session chain with every caller's own lots, offers, units and attestations."""

    chain: Any
    accounts: dict[str, LocalAccount] = field(default_factory=dict)  # caller key / helper name -> account
    own_uid: dict[str, bytes] = field(default_factory=dict)
    other_uid: bytes = b""
    relay: tuple[Any, ...] = ()
    relay_inventory: tuple[Any, ...] = ()

    def addr(self, key: str) -> str:
        return self.accounts[key].address

    def lot_of(self, caller: Caller, prefix: str) -> str:
        """The caller's own lot with this prefix; admin and outsider (who hold nothing) get the source's."""
        return f"{prefix}-{caller.key}" if caller.registered else f"{prefix}-src"


def build_world(chain: Any) -> World:
    w = World(chain)
    base = chain.base
    for key, party in ROLE_PARTY.items():
        w.accounts[key] = chain.accounts[party]
    w.accounts["admin"] = chain.accounts["admin"]
    w.accounts["outsider"] = chain.accounts["outsider"]
    extra = {
        "no_roles": Role.OEM,
        "suspended": Role(4095),
        "src": Role.MINER,
        "builder": Role.REFINER | Role.PACK_ASSEMBLER,
        "verifier2": Role.GWP_VERIFIER,
    }
    for name in extra:
        w.accounts[name] = Account.create()
        base.fund(w.accounts[name].address)
    ledger = {name: base.with_account(a) for name, a in w.accounts.items()}
    admin = chain["admin"]
    for name, roles in extra.items():
        admin.register(w.addr(name), roles, name)

    holders = [c for c in CALLERS if c.registered]
    src, builder = ledger["src"], ledger["builder"]
    # Material lots: each holder's own (H), an incoming offer (IN), and the source's own.
    lots = [LotSpec(lot_id=f"{p}-{c.key}", material="ORE-NI", mass=1000, composition=ORE) for c in holders for p in ("H", "IN")]
    lots += [LotSpec(lot_id=n, material="ORE-NI", mass=1000, composition=ORE) for n in ("H-src", "IN-v2", "FRZ")]
    src.mint_many(lots)
    src.offer_many(
        [(f"H-{c.key}", w.addr(c.key)) for c in holders]
        + [(f"IN-{c.key}", w.addr(c.key)) for c in holders]
        + [("IN-v2", w.addr("verifier2")), ("H-src", w.addr("miner"))]
    )
    # Units: an Original one (U) and a Waste one (W) for each holder, and the builder's own.
    cells = [
        LotSpec(lot_id=f"CELL-{p}-{k}", material="CELL-NMC", mass=1000, composition=CELLS)
        for k in [c.key for c in holders] + ["src"]
        for p in ("U", "W")
    ]
    cells.append(LotSpec(lot_id="CELL-A-src", material="CELL-NMC", mass=1000, composition=CELLS))
    builder.mint_many(cells)
    for k in [c.key for c in holders] + ["src"]:
        for p in ("U", "W"):
            unit = LotSpec(lot_id=f"{p}-{k}", material="PACK", mass=1000, composition=CELLS)
            builder.build_unit([f"CELL-{p}-{k}"], unit, UnitSpec(serial=f"SN-{p}-{k}", rated_wh=1000))
        builder.set_status(f"W-{k}", PassportStatus.WASTE)
    # A-src: the builder's unit that every caller is authorised to diagnose (the "-authorised" rows).
    builder.build_unit(
        ["CELL-A-src"],
        LotSpec(lot_id="A-src", material="PACK", mass=1000, composition=CELLS),
        UnitSpec(serial="SN-A-src", rated_wh=1000),
    )
    for key in [c.key for c in CALLERS]:
        builder.authorise_diagnostician("A-src", w.addr(key))
    chain.rpc("evm_increaseTime", [10 * 86_400])  # SOH counters grow with time (at most 4 cycles a day)
    for unit in ("U-src", "A-src"):
        builder.record_soh(unit, SOH_BEFORE)
    builder.offer_many([(f"{p}-{c.key}", w.addr(c.key)) for c in holders for p in ("U", "W")])
    for c in holders:
        mine = ledger[c.key]
        mine.accept_many([f"H-{c.key}", f"U-{c.key}", f"W-{c.key}"])
        mine.record_soh(f"U-{c.key}", SOH_BEFORE)  # a record to correct
        mine.offer(f"H-{c.key}", w.addr("src"))  # a pending offer of its own, for cancel
    chain["auditor"].freeze("FRZ", "matrix")
    # Attestations: each holder's own (accredited, or self-declared as the holder of H), another
    # verifier's, and one signed but never relayed.
    d = base.deployment
    now = int(call(base.w3, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def signed(lot: str, signer: LocalAccount, nonce: int) -> Any:
        att = GwpAttestation(
            lot_id=to_bytes32(lot),
            emissions_grams=1_000,
            stage=LifeCycleStage.MainProduction,
            methodology="ISO14067:2018",
            evidence="0x" + "00" * 32,
            issued_at=now - 60,
            valid_until=now + 10 * 365 * 86400,
            nonce=nonce,
            deadline=now + 30 * 86400,
        )
        return sign_attestation(att, signer, d.chain_id, d.attestations)

    for c in holders:
        s = signed(f"H-{c.key}", w.accounts[c.key], 1)
        src.submit_attestation(s)
        w.own_uid[c.key] = s.digest
    other = signed("H-src", w.accounts["verifier2"], 1)
    src.submit_attestation(other)
    w.other_uid = other.digest
    w.relay = to_contract_args(signed("H-src", w.accounts["verifier2"], 2))
    inventory = ProcessInventory(
        lot_id=to_bytes32("H-src"),
        energy_wh=1_000,
        renewable_bps=0,
        water_withdrawn_litres=0,
        water_consumed_litres=0,
        evidence="0x" + "00" * 32,
        issued_at=now - 60,
        valid_until=now + 10 * 365 * 86400,
        nonce=3,
        deadline=now + 30 * 86400,
    )
    w.relay_inventory = to_inventory_args(sign_inventory(inventory, w.accounts["verifier2"], d.chain_id, d.attestations))
    # Last: the roleless party loses its role, the suspended party is suspended.
    admin.revoke_roles(w.addr("no_roles"), Role.OEM)
    admin.suspend(w.addr("suspended"), "matrix")
    return w


def _fresh(tag: str) -> str:
    return f"NEW-{tag}-{secrets.token_hex(4)}"


# How each case is called by `caller`: (contract function arguments).
ARGS: dict[str, Callable[[World, Caller], tuple[Any, ...]]] = {
    "register": lambda w, c: (Account.create().address, int(Role.MINER), ZERO, ZERO),
    "grantRoles": lambda w, c: (w.addr("src"), int(Role.OEM)),
    "revokeRoles": lambda w, c: (w.addr("src"), int(Role.MINER)),
    "suspend": lambda w, c: (w.addr("src"), ZERO),
    "reinstate": lambda w, c: (w.addr("suspended"),),
    "transferAdmin": lambda w, c: (Account.create().address,),
    "acceptAdmin-named": lambda w, c: (),
    "acceptAdmin-not-named": lambda w, c: (),
    "mint": lambda w, c: (spec(_fresh("M"), "ORE-NI", ORE),),
    "mintBatch": lambda w, c: ([spec(_fresh("M1"), "ORE-NI", ORE), spec(_fresh("M2"), "ORE-NI", ORE)],),
    "offer": lambda w, c: (b32(w.lot_of(c, "H")), w.addr("src") if c.registered else w.addr("miner")),
    "offer-other": lambda w, c: (b32("H-src"), w.addr("miner")),
    "offerBatch": lambda w, c: ([b32(w.lot_of(c, "H"))], [w.addr("src") if c.registered else w.addr("miner")]),
    "accept": lambda w, c: (b32(w.lot_of(c, "IN") if c.registered else "IN-v2"),),
    "accept-other": lambda w, c: (b32("IN-v2"),),
    "acceptBatch": lambda w, c: ([b32(w.lot_of(c, "IN") if c.registered else "IN-v2")],),
    "reject": lambda w, c: (b32(w.lot_of(c, "IN") if c.registered else "IN-v2"),),
    "reject-other": lambda w, c: (b32("IN-v2"),),
    "cancel": lambda w, c: (b32(w.lot_of(c, "H")),),
    "cancel-other": lambda w, c: (b32("H-src"),),
    "split": lambda w, c: _split(w.lot_of(c, "H")),
    "split-other": lambda w, c: _split("H-src"),
    "merge": lambda w, c: ([whole(w.lot_of(c, "H"), "ORE-NI", ORE)], spec(_fresh("MG"), "ORE-NI", ORE)),
    "merge-other": lambda w, c: ([whole("H-src", "ORE-NI", ORE)], spec(_fresh("MG"), "ORE-NI", ORE)),
    "transform": lambda w, c: ([whole(w.lot_of(c, "H"), "ORE-NI", ORE)], [spec(_fresh("T"), "NiSO4", ORE)], NO_LOSS),
    "transform-other": lambda w, c: ([whole("H-src", "ORE-NI", ORE)], [spec(_fresh("T"), "NiSO4", ORE)], NO_LOSS),
    "freeze": lambda w, c: (b32("H-src"), ZERO),
    "freezeBatch": lambda w, c: ([b32("H-src")], ZERO),
    "unfreeze": lambda w, c: (b32("FRZ"),),
    "buildUnit": lambda w, c: _build(w.lot_of(c, "H")),
    "buildUnit-other": lambda w, c: _build("H-src"),
    "recordSoh": lambda w, c: (b32(w.lot_of(c, "U")), SOH_NEXT),
    "recordSoh-other": lambda w, c: (b32("U-src"), SOH_NEXT),
    "recordSoh-authorised": lambda w, c: (b32("A-src"), SOH_NEXT),
    "correctSoh": lambda w, c: (b32(w.lot_of(c, "U")), SOH_FIXED),
    "correctSoh-other": lambda w, c: (b32("U-src"), SOH_FIXED),
    "correctSoh-authorised": lambda w, c: (b32("A-src"), SOH_FIXED),
    "authoriseDiagnostician": lambda w, c: (b32(w.lot_of(c, "U")), w.addr("diagnostician"), True),
    "authoriseDiagnostician-other": lambda w, c: (b32("U-src"), w.addr("diagnostician"), True),
    "setStatus": lambda w, c: (b32(w.lot_of(c, "U")), int(PassportStatus.REUSED), ZERO),
    "setStatus-other": lambda w, c: (b32("U-src"), int(PassportStatus.REUSED), ZERO),
    "repurpose": lambda w, c: _repurpose(w.lot_of(c, "U")),
    "repurpose-other": lambda w, c: _repurpose("U-src"),
    "dismantle": lambda w, c: _dismantle(w.lot_of(c, "U")),
    "dismantle-other": lambda w, c: _dismantle("U-src"),
    "remanufacture": lambda w, c: _remanufacture(w.lot_of(c, "U")),
    "remanufacture-other": lambda w, c: _remanufacture("U-src"),
    "recycle": lambda w, c: _recycle(w.lot_of(c, "W")),
    "recycle-other": lambda w, c: _recycle("W-src"),
    "attest": lambda w, c: w.relay,
    "attestInventory": lambda w, c: w.relay_inventory,
    "revoke": lambda w, c: (w.own_uid.get(c.key, w.other_uid), ZERO),
    "revoke-other": lambda w, c: (w.other_uid, ZERO),
}


def _split(lot: str) -> tuple[Any, ...]:
    a, b = Composition.of({"Ni": 60, "Co": 6}), Composition.of({"Ni": 40, "Co": 4})
    return whole(lot, "ORE-NI", ORE), [spec(_fresh("S1"), "ORE-NI", a, 600), spec(_fresh("S2"), "ORE-NI", b, 400)]


def _build(lot: str) -> tuple[Any, ...]:
    return [whole(lot, "ORE-NI", ORE)], spec(_fresh("PK"), "PACK", ORE), (ZERO, 1000), NO_LOSS


def _repurpose(unit: str) -> tuple[Any, ...]:
    return [whole(unit, "PACK", CELLS)], spec(_fresh("ESS"), "ESS", CELLS), (ZERO, 1000), NO_LOSS


def _dismantle(unit: str) -> tuple[Any, ...]:
    # One module of the whole unit: the smallest dismantling, rated what the unit was.
    return whole(unit, "PACK", CELLS), [spec(_fresh("MOD"), "MODULE", CELLS)], [(ZERO, 1000)], NO_LOSS


def _remanufacture(unit: str) -> tuple[Any, ...]:
    return [whole(unit, "PACK", CELLS)], spec(_fresh("RMF"), "PACK", CELLS), (ZERO, 1000), NO_LOSS


def _recycle(unit: str) -> tuple[Any, ...]:
    # The Waste units of the matrix never reached an end user: what is recovered from them is pre-consumer.
    return whole(unit, "PACK", CELLS), [spec(_fresh("REC"), "BLACK-MASS", CELLS.all_pre_consumer())], NO_LOSS


@pytest.fixture(scope="module")
def world(module_chain: Any) -> World:
    return build_world(module_chain)


def test_every_case_has_a_call() -> None:
    assert set(ARGS) == {c.key for c in CASES}


def test_every_state_changing_function_is_in_the_matrix() -> None:
    """A function added to the contracts must be added to the matrix (views and pure functions aside)."""
    from ledger.chain.abi import artifact

    covered = {(c.contract, c.function) for c in CASES}
    for contract, name in (("ledger", "RinneLedger"), ("attestations", "GwpAttestations")):
        for entry in artifact(name)["abi"]:
            if entry["type"] == "function" and entry["stateMutability"] not in ("view", "pure"):
                assert (contract, entry["name"]) in covered, f"{name}.{entry['name']} is missing from the access matrix"


def _cells() -> list[Any]:
    out = []
    for case in CASES:
        for caller in CALLERS:
            marks = []
            why = DEVIATIONS.get((case.key, caller.key))
            if why:
                marks.append(pytest.mark.xfail(strict=True, reason=f"known contract deviation: {why}"))
            out.append(pytest.param(case, caller, id=f"{case.key}-{caller.key}", marks=marks))
    return out


@pytest.mark.parametrize(("case", "caller"), _cells())
def test_access_matrix(world: World, case: Case, caller: Caller) -> None:
    args = ARGS[case.key](world, caller)
    sender = world.addr(caller.key)
    if case.relation == "named":
        # The admin names the caller as successor; the call is made in that state, then rolled back.
        snap = world.chain.rpc("evm_snapshot")
        try:
            world.chain["admin"].transfer_admin(sender)
            outcome = call_as(world.chain.base, sender, case.contract, case.function, *args)
        finally:
            world.chain.rpc("evm_revert", [snap])
            resync(world.chain.base)
    else:
        outcome = call_as(world.chain.base, sender, case.contract, case.function, *args)
    if expected(case, caller):
        assert outcome is None, f"{caller.label} should be allowed to {case.function} ({case.situation}) but got {outcome}"
    else:
        assert outcome is not None, f"{caller.label} must not be able to {case.function} ({case.situation})"
        assert outcome in AUTH_ERRORS, f"{case.function} by {caller.label} was refused, but not by an authorization check: {outcome}"
