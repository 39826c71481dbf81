#!/usr/bin/env python3
"""Gas per operation, whole transaction (receipt gasUsed, element vectors included), measured
through the library on a fresh Anvil (automine, default 30M-gas blocks) that this script starts.

Usage: python scripts/bench_gas.py [--json]

Goals (issue 16): mint <= 90k; offer + accept <= 80k; transform 4->1 <= 155k; split into 2 <= 175k;
the attestation relay at most 0.40 of the Ethereum Attestation Service's `attestByDelegation`.
References, in the same run: OpenZeppelin's ERC-1155 (from npm) measured by forge
(contracts/_test/References.t.sol, `forge test --isolate`, so whole transactions like the rest); EAS, which
cannot be vendored here, as the figures recorded in `EAS_RECORDED`.
The forge gas snapshot (contracts/_test/Gas.t.sol, scripts/gas_check.py) is the CI gate; this is the
end-to-end view through the library.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
from pathlib import Path

from bench_common import emit, fresh_chain, log, machine, print_table, verdict
from eth_abi import encode as abi_encode

from ledger import (
    Composition,
    GwpAttestation,
    LotSpec,
    PassportStatus,
    Role,
    SohRecord,
    UnitSpec,
    Use,
    artifact,
    origin_code,
    sign_attestation,
    to_bytes32,
)

PARTIES = {
    "miner": Role.MINER,
    "refiner": Role.REFINER | Role.PRECURSOR_MAKER | Role.CATHODE_MAKER | Role.CELL_MAKER | Role.PACK_ASSEMBLER,
    "verifier": Role.GWP_VERIFIER,
    "oem": Role.OEM | Role.SECOND_LIFE | Role.DIAGNOSTICIAN,
    "recycler": Role.RECYCLER | Role.REFINER,
}
#: (key, goal) — issue 16's goals, whole transaction, at most.
BUDGETS = [
    ("mint", 90_000),
    ("offer_plus_accept", 80_000),
    ("transform_4_1", 155_000),
    ("split_2", 175_000),
]
#: The attestation relay's goal, as a share of EAS attestByDelegation.
ATTEST_VS_EAS_GOAL = 0.40
#: EAS, whole transaction, as issue 16 measured it side by side with forge 1.7.1, solc 0.8.28, optimizer
#: 10,000 runs, Cancun (the EAS sources are not redistributable here, so the figure is recorded, not re-run).
EAS_RECORDED = {"attestByDelegation": 317_000, "attest": 300_700}
ROOT = Path(__file__).resolve().parent.parent

ORE = Composition.of({"Ni": 20_000, "Co": 2_500, "Mn": 2_000, "Li": 1_500, "Fe": 800, "Cu": 300})


def ore(lot_id: str, mass: int = 1_000_000, comp: Composition = ORE) -> LotSpec:
    return LotSpec(lot_id=lot_id, material="ORE-NMC", mass=mass, composition=comp, origin=origin_code("AU", "Ravensthorpe"))


def measure() -> dict[str, int]:
    gas: dict[str, int] = {}
    with fresh_chain(PARTIES, bulk=False) as b:
        miner, refiner, verifier, oem, recycler = (b[n] for n in ("miner", "refiner", "verifier", "oem", "recycler"))
        tag = secrets.token_hex(3)

        def lot(name: str) -> str:
            return f"{name}-{tag}"

        # Custody.
        gas["mint"] = miner.mint(ore(lot("M1"))).gas_used
        gas["offer"] = miner.offer(lot("M1"), refiner.address).gas_used
        gas["accept"] = refiner.accept(lot("M1")).gas_used
        gas["offer_plus_accept"] = gas["offer"] + gas["accept"]

        # Bulk entry points, per lot.
        n = 100
        bulk_ids = [lot(f"B{k}") for k in range(n)]
        r = miner.mint_many([ore(i, 100_000, Composition.of({"Ni": 2_000, "Co": 250})) for i in bulk_ids])
        gas["mint_batch_per_lot"] = r.gas_used // n
        r = miner.offer_many([(i, refiner.address) for i in bulk_ids])
        gas["offer_batch_per_lot"] = r.gas_used // n
        r = refiner.accept_many(bulk_ids)
        gas["accept_batch_per_lot"] = r.gas_used // n

        # Splits (same material; parts share the elements pro rata).
        gas["split_2"] = refiner.split(bulk_ids[0], [(lot("S2a"), 50_000), (lot("S2b"), 50_000)]).gas_used
        gas["split_8"] = refiner.split(bulk_ids[1], [(lot(f"S8-{k}"), 12_500) for k in range(8)]).gas_used

        # Merges of 2, 8 and 32 whole lots.
        pool = iter(bulk_ids[2:])
        for k in (2, 8, 32):
            gas[f"merge_{k}"] = refiner.merge([next(pool) for _ in range(k)], lot(f"MG{k}")).gas_used

        # Transforms: 1->1, 4->1, 16->1, 16->2 (inputs consumed whole; outputs keep every element).
        def transform(k_in: int, k_out: int, key: str) -> None:
            ins = [next(pool) for _ in range(k_in)]
            per_out = Composition.of({"Ni": 2_000 * k_in // k_out, "Co": 250 * k_in // k_out})
            outs = [
                LotSpec(lot_id=lot(f"{key}-{j}"), material="NISO4", mass=80_000 * k_in // k_out, composition=per_out)
                for j in range(k_out)
            ]
            gas[key] = refiner.transform(ins, outs).gas_used

        transform(1, 1, "transform_1_1")
        transform(4, 1, "transform_4_1")
        transform(16, 1, "transform_16_1")
        transform(16, 2, "transform_16_2")
        gas["transform_per_extra_input"] = (gas["transform_16_1"] - gas["transform_1_1"]) // 15

        # Attestations: EOA signer, then an ERC-1271 wallet as signer; revoke.
        d = b.admin.deployment
        now = int(b.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

        def att(lot_id: str, nonce: int) -> GwpAttestation:
            return GwpAttestation(
                lot_id=lot_id_hex(lot_id),
                emissions_grams=123_456,
                stage=0,
                methodology="ISO14067:2018",
                evidence="0x" + "11" * 32,
                issued_at=now,
                valid_until=now + 10 * 365 * 86_400,
                nonce=nonce,
                deadline=now + 86_400,
            )

        # The first attestation ever also starts GwpAttestations' ledger head (a zero-to-nonzero
        # store): measure the steady state, after one.
        b.admin.submit_attestation(sign_attestation(att(lot("M1"), 0), verifier.account, d.chain_id, d.attestations))
        signed = sign_attestation(att(lot("M1"), 1), verifier.account, d.chain_id, d.attestations)
        before = b.head()
        uid = b.admin.submit_attestation(signed)
        gas["attest"] = _gas_of_last_tx(b, before)
        gas["revoke"] = verifier.revoke_attestation(uid, "superseded").gas_used

        code = bytes.fromhex(artifact("ERC1271WalletMock")["bytecode"][2:]) + abi_encode(["address"], [verifier.address])
        wallet = verifier.deploy_code(code)
        b.admin.register(wallet, Role.GWP_VERIFIER, "verifier multisig")
        signed = sign_attestation(att(lot("M1"), 2), verifier.account, d.chain_id, d.attestations)
        signed = signed.model_copy(update={"signer": wallet})
        before = b.head()
        b.admin.submit_attestation(signed)
        gas["attest_erc1271"] = _gas_of_last_tx(b, before)

        # Units: build, SOH, status, repurpose (two parents), recycle.
        cam = Composition.of({"Ni": 4_000, "Co": 500})
        cells = [next(pool) for _ in range(4)]
        gas["build_unit"] = refiner.build_unit(
            cells[:2],
            LotSpec(lot_id=lot("PACK1"), material="PACK-60KWH", mass=200_000, composition=cam),
            UnitSpec(serial=f"SN1-{tag}", rated_wh=60_000),
        ).gas_used
        refiner.build_unit(
            cells[2:],
            LotSpec(lot_id=lot("PACK2"), material="PACK-40KWH", mass=200_000, composition=cam),
            UnitSpec(serial=f"SN2-{tag}", rated_wh=40_000),
        )
        for p in ("PACK1", "PACK2"):
            refiner.offer(lot(p), oem.address)
            oem.accept(lot(p))
        b.rpc("evm_increaseTime", [365 * 86_400])  # 500 cycles take time: the contract bounds cycles per day
        gas["soh"] = oem.record_soh(
            lot("PACK1"), SohRecord(soce_bp=8_500, capacity_wh=51_000, cycles=500, throughput_wh=10_000_000)
        ).gas_used
        gas["set_status"] = oem.set_status(lot("PACK1"), PassportStatus.REUSED).gas_used
        gas["repurpose"] = oem.repurpose(
            [lot("PACK1"), Use(lot_id=lot("PACK2"), mass=100_000)],
            LotSpec(lot_id=lot("ESS1"), material="ESS-80KWH", mass=300_000, composition=Composition.of({"Ni": 6_000, "Co": 750})),
            UnitSpec(serial=f"ESS-{tag}", rated_wh=80_000),
        ).gas_used
        oem.set_status(lot("PACK2"), PassportStatus.WASTE)
        oem.offer(lot("PACK2"), recycler.address)
        recycler.accept(lot("PACK2"))
        gas["recycle"] = recycler.recycle(
            lot("PACK2"),
            [
                LotSpec(lot_id=lot("REC-NI"), material="NISO4", mass=50_000, composition=Composition.of({"Ni": 1_500, "Co": 200})),
                LotSpec(lot_id=lot("REC-BM"), material="BLACK-MASS", mass=60_000, composition=Composition.of({"Ni": 300})),
            ],
        ).gas_used
    return gas


def forge_references() -> dict[str, int]:
    """Run contracts/_test/References.t.sol under `forge test --isolate`; return its gas figures by name."""
    found = sorted((ROOT / "node_modules" / "@foundry-rs").glob("forge-*/bin/forge"))
    if not found:
        raise SystemExit("no forge binary under node_modules/@foundry-rs/forge-*/bin: run `npm ci` first")
    out = ROOT / "build" / "snapshots" / "ReferenceGasTest.json"
    out.unlink(missing_ok=True)
    cmd = [str(found[0]), "test", "--isolate", "--match-path", "contracts/_test/References.t.sol"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"forge reference suite failed: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}")
    return {name: int(v) for name, v in json.loads(out.read_text()).items()}


def lot_id_hex(label: str) -> str:
    return to_bytes32(label)


def _gas_of_last_tx(b, before: int) -> int:
    """gasUsed of the single transaction mined after block `before` (submit_attestation returns a uid)."""
    block = b.rpc("eth_getBlockByNumber", [hex(b.head()), False])
    assert int(block["number"], 16) == before + 1 and len(block["transactions"]) == 1, "expected one new transaction"
    return int(b.rpc("eth_getTransactionReceipt", [block["transactions"][0]])["gasUsed"], 16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object (gas by operation, budgets, machine)")
    parser.add_argument("--quick", action="store_true", help="accepted for bench_all; the gas run is already quick")
    args = parser.parse_args(argv)
    log("gas: measuring every operation on a fresh Anvil ...", quiet=False)
    gas = measure()
    log("gas: the OpenZeppelin ERC-1155 reference under forge ...", quiet=False)
    refs = forge_references()
    gas["erc1155_mint_new_id"] = refs["ERC1155 mint of a new id"]
    gas["erc1155_transfer"] = refs["ERC1155 safeTransferFrom of a whole balance"]
    gas["mint_vs_erc1155"] = round(gas["mint"] / gas["erc1155_mint_new_id"], 2)
    gas["eas_attest_by_delegation_recorded"] = EAS_RECORDED["attestByDelegation"]
    gas["attest_vs_eas"] = round(gas["attest"] / EAS_RECORDED["attestByDelegation"], 3)
    checks = {}
    for key, budget in BUDGETS:
        checks[key] = {"gas": gas[key], "budget": budget, "verdict": verdict(gas[key], budget, at_most=True)}
    checks["attest_vs_eas"] = {
        "ratio": gas["attest_vs_eas"],
        "budget": ATTEST_VS_EAS_GOAL,
        "verdict": verdict(gas["attest_vs_eas"], ATTEST_VS_EAS_GOAL, at_most=True),
    }
    if args.json:
        emit({"benchmark": "gas", **gas, "budgets": checks, "machine": machine()}, True)
        return 0
    reference = {
        "mint": f"OpenZeppelin ERC-1155 new id {gas['erc1155_mint_new_id']:,} (forge, same run)",
        "offer_plus_accept": f"ERC-1155 safeTransferFrom {gas['erc1155_transfer']:,} (no consent step)",
        "attest": f"EAS attestByDelegation {EAS_RECORDED['attestByDelegation']:,} (recorded): {gas['attest_vs_eas']:.2f}x",
    }
    rows = []
    for key, value in gas.items():
        budget = dict(BUDGETS).get(key)
        ref = reference.get(key)
        rows.append(
            (
                key,
                value,
                f"<= {budget:,}" if budget else "",
                verdict(value, budget, at_most=True) if budget else "",
                ref or "",
            )
        )
    print_table("Gas per operation (whole transaction, receipt gasUsed)", rows, ("operation", "gas", "budget", "verdict", "reference"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
