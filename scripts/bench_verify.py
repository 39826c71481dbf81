#!/usr/bin/env python3
"""Measure offline GWP attestation verifications per second (single process, single thread).

Usage: python scripts/bench_verify.py [--seconds 3] [--pool 256] [--json]

The pool holds distinct attestations signed by distinct keys, verified round-robin, so that no
cache beyond the per-(chain, contract) domain separator helps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from eth_account import Account

from ledger import GwpAttestation, LifeCycleStage, SignedAttestation, sign_attestation, verify_attestation

CHAIN = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
NOW = 1_700_000_100


def build_pool(size: int) -> list[SignedAttestation]:
    """Sign ``size`` distinct attestations, each with its own deterministic test key."""
    pool = []
    for i in range(size):
        account = Account.from_key((i + 1).to_bytes(32, "big"))
        att = GwpAttestation(
            lot_id=(i + 1).to_bytes(32, "big"),
            emissions_grams=1_000_000 + i,
            stage=LifeCycleStage(i % 4),
            methodology="ISO14067:2018",
            evidence=(10**9 + i).to_bytes(32, "big"),
            issued_at=1_700_000_000,
            valid_until=1_800_000_000,
            nonce=i,
            deadline=1_700_086_400,
        )
        pool.append(sign_attestation(att, account, CHAIN, CONTRACT))
    return pool


def measure(pool: list[SignedAttestation], seconds: float) -> float:
    """Verify the pool round-robin for about ``seconds`` and return verifications per second."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for signed in pool:
            if not verify_attestation(signed, now=NOW, chain_id=CHAIN, contract=CONTRACT).ok:
                raise SystemExit("benchmark attestation failed to verify")
        done += len(pool)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure (default 3)")
    parser.add_argument("--pool", type=int, default=256, help="distinct signed attestations (default 256)")
    parser.add_argument("--json", action="store_true", help='print {"verify_per_s": N} only')
    args = parser.parse_args(argv)
    pool = build_pool(max(1, args.pool))
    measure(pool, 0.2)  # warm up caches and the allocator
    rate = measure(pool, args.seconds)
    if args.json:
        print(json.dumps({"verify_per_s": round(rate)}))
    else:
        print(f"{rate:,.0f} verifications/s ({len(pool)} distinct attestations, {args.seconds:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
