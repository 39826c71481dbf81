#!/usr/bin/env python3
"""Bulk ingest: lots minted through the library's bulk path (Ledger.mint_many) against a naive
one-transaction-at-a-time web3 loop, on the same fresh Anvil in the same run.

Usage: python scripts/bench_ingest.py [--lots 10000] [--naive-lots 1000] [--sizes 1000,10000,100000] [--quick] [--json]

The node is started with ledger.BULK_NODE_ARGS (mines on request, 1G-gas blocks, zero base fee).
Phases, in this order (the chain only grows, so later phases run on a bigger chain):

1. naive: web3's contract API, one `mint` per transaction, automine switched on (the usual dev node):
   build_transaction (estimate, nonce, fees), sign, send, wait_for_transaction_receipt (polling every
   5 ms instead of web3's default 100 ms, which alone holds the loop near 10 lots/s). A sample of
   --naive-lots is timed (the rate does not depend on the count, and 10,000 would take minutes).
2. bulk_automine: Ledger.mint_many on the same node with automine still on (one block per transaction).
3. bulk: Ledger.mint_many with automine off: the library notices and mines its windows with evm_mine.
4. node ceiling: the same mintBatch transactions pre-encoded (with the contract ABI, ledger.contract_abi)
   and pre-signed (eth-account), timed from the first send to the last receipt: what the node itself can take.

--sizes runs phase 3 alone at each size, each in a fresh process and node, with its peak RSS.
"""

from __future__ import annotations

import argparse
import sys

from bench_common import Bench, Timer, emit, fresh_chain, log, machine, peak_rss_mb, print_table, run_child, verdict

from ledger import Composition, LotSpec, Role, artifact, contract_abi

COMP = Composition.of({"Ni": 20_000, "Co": 2_500, "Mn": 2_000, "Li": 1_500})


def specs(prefix: str, n: int) -> list[LotSpec]:
    return [LotSpec(lot_id=f"{prefix}-{k}", material="ORE-NMC", mass=1_000_000 + k, composition=COMP) for k in range(n)]


def naive_loop(b, lots: list[LotSpec]) -> float:
    """The loop a web3 user writes first: one transaction per lot, each awaited. Returns seconds."""
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(b.node.rpc_url))
    acct = b.accounts["miner"]
    contract = w3.eth.contract(address=b.admin.deployment.ledger, abi=artifact("RinneLedger")["abi"])
    with Timer() as t:
        for spec in lots:
            tx = contract.functions.mint(spec.abi()).build_transaction(
                {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address), "chainId": b.admin.chain_id}
            )
            signed = acct.sign_transaction(tx)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.005)  # not the 0.1 s default: a fair floor
            if receipt["status"] != 1:
                raise SystemExit("naive mint failed")
    b["miner"].resync()
    return t.s


def node_ceiling(b, lots: list[LotSpec]) -> tuple[float, int]:
    """Pre-encoded, pre-signed mintBatch transactions, as the bulk path sizes them: seconds from the
    first send to the last receipt, and the number of transactions."""
    acct = b.accounts["miner"]
    fn = contract_abi("RinneLedger").fn("mintBatch")
    per_lot = 84_000
    size = min(len(lots), (1 << 24) // per_lot)
    fees = _fees(b)
    nonce = int(b.rpc("eth_getTransactionCount", [acct.address, "pending"]), 16)
    raws = [
        "0x"
        + _sign(
            b,
            b.admin.deployment.ledger,
            fn.encode([s.abi() for s in lots[i : i + size]]),
            per_lot * len(lots[i : i + size]) + 30_000,
            nonce + k,
            fees,
        ).hex()
        for k, i in enumerate(range(0, len(lots), size))
    ]
    with Timer() as t:
        hashes = [b.rpc("eth_sendRawTransaction", [r]) for r in raws]
        while True:
            b.rpc("evm_mine")
            got = b.admin.rpc_batch([("eth_getTransactionReceipt", [h]) for h in hashes[-1:]])
            if got[0] is not None:
                break
        receipts = []
        for i in range(0, len(hashes), 50):
            receipts += b.admin.rpc_batch([("eth_getTransactionReceipt", [h]) for h in hashes[i : i + 50]])
    if any(r is None or r["status"] != "0x1" for r in receipts):
        raise SystemExit("node-ceiling mintBatch failed")
    b["miner"].resync()
    return t.s, len(raws)


def _fees(b: Bench) -> tuple[int, int]:
    """(maxFeePerGas, maxPriorityFeePerGas) as the library prices a transaction: twice the base fee plus the tip."""
    block = b.rpc("eth_getBlockByNumber", ["latest", False])
    tip = int(b.rpc("eth_maxPriorityFeePerGas"), 16)
    return 2 * int(block.get("baseFeePerGas") or "0x0", 16) + tip, tip


def _sign(b: Bench, to: str, data: bytes, gas: int, nonce: int, fees: tuple[int, int]) -> bytes:
    """An EIP-1559 transaction from the miner, signed with eth-account."""
    tx = {
        "type": 2,
        "chainId": b.admin.chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": fees[0],
        "maxPriorityFeePerGas": fees[1],
        "to": to,
        "data": data,
        "value": 0,
    }
    return bytes(b.accounts["miner"].sign_transaction(tx).raw_transaction)


def run(lots: int, naive_lots: int, phases: set[str], quiet: bool) -> dict:
    out: dict = {"lots": lots}
    with fresh_chain({"miner": Role.MINER}, bulk=True) as b:
        miner = b["miner"]
        if "naive" in phases and naive_lots:
            b.set_automine(True)
            log(f"ingest: naive web3 loop, {naive_lots:,} lots ...", quiet=quiet)
            s = naive_loop(b, specs("N", naive_lots))
            out["naive_lots"] = naive_lots
            out["naive_lots_per_s"] = round(naive_lots / s, 1)
        if "bulk_automine" in phases:
            b.set_automine(True)
            log(f"ingest: Ledger.mint_many, automine, {lots:,} lots ...", quiet=quiet)
            with Timer() as t:
                r = miner.mint_many(specs("A", lots))
            out["bulk_automine_lots_per_s"] = round(lots / t.s)
            out["bulk_automine_transactions"] = r.transactions
        if "bulk" in phases:
            b.set_automine(False)
            log(f"ingest: Ledger.mint_many, mining on request, {lots:,} lots ...", quiet=quiet)
            with Timer() as t:
                r = miner.mint_many(specs("B", lots))
            out["bulk_lots_per_s"] = round(lots / t.s)
            out["bulk_seconds"] = round(t.s, 2)
            out["bulk_transactions"] = r.transactions
            out["bulk_gas_per_lot"] = r.gas_used // lots
        if "ceiling" in phases:
            b.set_automine(False)
            log(f"ingest: node ceiling (pre-signed mintBatch), {lots:,} lots ...", quiet=quiet)
            s, n = node_ceiling(b, specs("C", lots))
            out["node_ceiling_lots_per_s"] = round(lots / s)
        out["chain_blocks"] = b.head()
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if "bulk_lots_per_s" in out and "naive_lots_per_s" in out:
        out["bulk_vs_naive"] = round(out["bulk_lots_per_s"] / out["naive_lots_per_s"], 1)
    if "bulk_lots_per_s" in out and "node_ceiling_lots_per_s" in out:
        out["bulk_vs_ceiling"] = round(out["bulk_lots_per_s"] / out["node_ceiling_lots_per_s"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=10_000, help="lots per bulk phase (default 10,000)")
    parser.add_argument("--naive-lots", type=int, default=1_000, help="lots of the naive loop's timed sample (default 1,000)")
    parser.add_argument("--sizes", default="", help="comma-separated sizes: bulk rate at each, one fresh process per size")
    parser.add_argument("--phases", default="naive,bulk_automine,bulk,ceiling", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="2,000 lots, 200 naive")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.quick:
        args.lots, args.naive_lots = min(args.lots, 2_000), min(args.naive_lots, 200)
    quiet = False
    result = {"benchmark": "ingest", **run(args.lots, args.naive_lots, set(args.phases.split(",")), quiet)}
    scaling = []
    for size in [int(x) for x in args.sizes.split(",") if x.strip()]:
        log(f"ingest: scaling run at {size:,} lots (fresh process) ...")
        child = run_child("bench_ingest.py", ["--lots", str(size), "--naive-lots", "0", "--phases", "bulk"])
        scaling.append(
            {
                "lots": size,
                "bulk_lots_per_s": child["bulk_lots_per_s"],
                "seconds": child["bulk_seconds"],
                "transactions": child["bulk_transactions"],
                "peak_rss_mb": child["peak_rss_mb"],
            }
        )
    if scaling:
        result["scaling"] = scaling
    result["goals"] = {
        "bulk_lots_per_s": {"goal": ">= 1000", "verdict": verdict(result.get("bulk_lots_per_s"), 1_000)},
        "bulk_vs_naive": {"goal": ">= 10x", "verdict": verdict(result.get("bulk_vs_naive"), 10)},
    }
    result["machine"] = machine()
    if args.json:
        emit(result, True)
        return 0
    rows = [
        ("naive web3 loop, 1 mint per tx (automine)", result.get("naive_lots_per_s"), f"sample of {args.naive_lots:,}", ""),
        (
            "Ledger.mint_many, automine",
            result.get("bulk_automine_lots_per_s"),
            f"{result.get('bulk_automine_transactions', '')} txs",
            "",
        ),
        (
            "Ledger.mint_many, mining on request",
            result.get("bulk_lots_per_s"),
            f"{result.get('bulk_transactions', '')} txs",
            f">= 1,000/s: {result['goals']['bulk_lots_per_s']['verdict']}; >= 10x naive: {result['goals']['bulk_vs_naive']['verdict']}",
        ),
        ("node ceiling: pre-signed mintBatch", result.get("node_ceiling_lots_per_s"), "", ""),
    ]
    print_table(f"Bulk ingest of {args.lots:,} lots (lots/s)", [r for r in rows if r[1] is not None], ("path", "lots/s", "", "goal"))
    print(
        f"bulk / naive = {result.get('bulk_vs_naive')}x; bulk / node ceiling = {result.get('bulk_vs_ceiling')}; "
        f"gas per lot {result.get('bulk_gas_per_lot')}; peak RSS {result['peak_rss_mb']} MB"
    )
    if scaling:
        print_table(
            "Bulk path by size (fresh node and process each)",
            [(s["lots"], s["bulk_lots_per_s"], s["seconds"], s["transactions"], s["peak_rss_mb"]) for s in scaling],
            ("lots", "lots/s", "seconds", "txs", "peak RSS MB"),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
