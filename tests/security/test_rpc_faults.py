"""An unreliable RPC path: a loopback proxy that drops requests, drops answers after the node acted,
or answers late. Every operation completes or fails with a library error, and nothing is done
twice: a lost answer to eth_sendRawTransaction must not make the library send the operation again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from flaky_proxy import Faults, FlakyProxy
from index_backends import Targets

from ledger import (
    Composition,
    GwpAttestation,
    Ledger,
    LedgerError,
    LifeCycleStage,
    LotSpec,
    LotState,
    Role,
    SohRecord,
    UnitSpec,
    sign_attestation,
    to_bytes32,
)
from ledger.auditor.run import audit
from ledger.chain.abi import contract_abi
from ledger.chain.rpc import call, make_web3
from ledger.index.store import EventIndex

pytestmark = pytest.mark.chain

_EVENTS = {**contract_abi("RinneLedger").events, **contract_abi("GwpAttestations").events}


def ore(lot_id: str, ni: int = 1000) -> LotSpec:
    return LotSpec(lot_id=lot_id, material="ORE-NI", mass=100_000, composition=Composition.of({"Ni": ni, "Co": ni // 10}))


def count_events(ledger: Ledger, name: str) -> int:
    d = ledger.deployment
    topic = "0x" + _EVENTS[name].topic0.hex()
    logs = call(
        ledger.w3,
        "eth_getLogs",
        [{"address": [d.ledger, d.attestations], "fromBlock": hex(d.block), "toBlock": "latest", "topics": [topic]}],
    )
    return len(logs)


@pytest.fixture
def via_proxy(chain: Any) -> Iterator[Callable[..., tuple[FlakyProxy, Callable[[str], Ledger]]]]:
    """Factory: a FlakyProxy in front of the session node, and Ledgers (one per party) behind it."""
    stack = ExitStack()

    def make(faults: Faults, *, timeout: float = 60.0) -> tuple[FlakyProxy, Callable[[str], Ledger]]:
        proxy = stack.enter_context(FlakyProxy(chain.base.w3.provider.endpoint_uri, faults))
        proxy.enabled = False  # connecting is not under test
        base = Ledger(make_web3(proxy.url, timeout=timeout), chain.base.chain_id, chain.base.deployment, data_dir=chain.data_dir)
        proxy.enabled = True
        cache: dict[str, Ledger] = {}

        def party(name: str) -> Ledger:
            if name not in cache:
                cache[name] = base.with_account(chain.accounts[name])
            return cache[name]

        return proxy, party

    with stack:
        yield make


def _attestation(chain: Any, lot: str, nonce: int) -> Any:
    now = int(chain.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    att = GwpAttestation(
        lot_id=to_bytes32(lot),
        emissions_grams=5_000,
        stage=LifeCycleStage.MainProduction,
        methodology="ISO14067:2018",
        evidence="0x" + "00" * 32,
        issued_at=now - 5,
        valid_until=now + 86400 * 365,
        nonce=nonce,
        deadline=now + 86400,
    )
    d = chain.base.deployment
    return sign_attestation(att, chain.accounts["verifier"], d.chain_id, d.attestations)


def _unit(chain: Any) -> None:
    chain["admin"].grant_roles(chain.addr("packs"), Role.REFINER)
    cells = LotSpec(lot_id="CELLS", material="CELL", mass=1000, composition=Composition.of({"Li": 10, "Ni": 80}))
    chain["packs"].mint(cells)
    chain["packs"].build_unit(
        ["CELLS"],
        LotSpec(lot_id="PACK", material="PACK", mass=1000, composition=cells.composition),
        UnitSpec(serial="SN-1", rated_wh=50_000),
    )
    # Only a diagnostician the holder authorised records SOH, and cycles are bounded per elapsed day.
    chain["packs"].authorise_diagnostician("PACK", chain.addr("diagnostician"))
    chain.rpc("evm_increaseTime", [3 * 86_400])


_SIGNED: dict[str, Any] = {}  # attestations signed while preparing a case, used when running it

# Operations that are not idempotent on their own: sent twice, each leaves a second event (or the
# second copy reverts and the caller is told it failed although it happened).
OPS: dict[str, tuple[Callable[[Any], None], Callable[[Callable[[str], Ledger], Any], Any], str]] = {
    "offer": (
        lambda c: c["miner"].mint(ore("L1")),
        lambda p, c: p("miner").offer("L1", c.addr("refiner")),
        "OfferMade",
    ),
    "recordSoh": (
        _unit,
        lambda p, c: p("diagnostician").record_soh(
            "PACK", SohRecord(soce_bp=9000, capacity_wh=45_000, cycles=10, throughput_wh=500_000)
        ),
        "SohRecorded",
    ),
    "grantRoles": (
        lambda c: None,
        lambda p, c: p("admin").grant_roles(c.addr("oem"), Role.DIAGNOSTICIAN),
        "RolesChanged",
    ),
    "revoke": (
        lambda c: (
            c["miner"].mint(ore("L1")),
            _SIGNED.__setitem__("L1", _attestation(c, "L1", 9)),
            c["oem"].submit_attestation(_SIGNED["L1"]),
        ),
        lambda p, c: p("auditor").revoke_attestation(_SIGNED["L1"].uid, "double counted"),
        "Revoked",
    ),
}


@pytest.mark.parametrize("fault", ["drop-response", "late-response"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_lost_answer_to_a_sent_transaction_does_not_repeat_it(chain: Any, via_proxy: Any, op: str, fault: str) -> None:
    """The node executed the transaction but its answer never arrived: the library must find its own
    transaction by hash instead of signing the operation again under the next nonce."""
    prepare, run, event = OPS[op]
    prepare(chain)
    before = count_events(chain.base, event)
    if fault == "drop-response":
        proxy, party = via_proxy(Faults(script=[("eth_sendRawTransaction", 1, "drop-response")]))
    else:  # answered after the client's timeout
        proxy, party = via_proxy(Faults(script=[("eth_sendRawTransaction", 1, "slow-response")], delay_seconds=1.5), timeout=0.5)
    receipt = run(party, chain)
    assert proxy.injected, "the fault was not injected"
    assert receipt is not None and receipt.status == 1
    assert count_events(chain.base, event) == before + 1


def test_random_faults_never_double_or_half_write(chain: Any, via_proxy: Any, tmp_path: Path, index_at: Targets) -> None:
    """A workload through a proxy that drops 10 % of requests (batches too), drops 10 % of answers
    after the node acted and delays 5 %: each operation completes or raises a one-line LedgerError;
    what completed is on-chain, nothing is on-chain twice; a plain re-run finishes the job; the audit
    of the result, synced through the same flaky path, passes."""
    proxy, party = via_proxy(Faults(drop_request=0.10, drop_response=0.10, delay=0.05, delay_seconds=0.05, seed=11))
    miner, refiner = party("miner"), party("refiner")
    outcomes: dict[tuple[str, str], str] = {}

    def attempt(op: str, lot: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
            outcomes[(op, lot)] = "done"
        except LedgerError as exc:
            assert "\n" not in str(exc)
            outcomes[(op, lot)] = "failed"

    singles = [f"R{i}" for i in range(6)]
    bulk = [ore(f"RB{i}", ni=100 + i) for i in range(30)]
    for i in singles:
        attempt("mint", i, lambda i=i: miner.mint(ore(i)))
    attempt("mint_many", "RB*", lambda: miner.mint_many(bulk, batch_size=10))
    for i in singles[:4]:
        attempt("offer", i, lambda i=i: miner.offer(i, chain.addr("refiner")))
    for i in singles[:4]:
        attempt("accept", i, lambda i=i: refiner.accept(i))
    # What completed is there; nothing happened twice.
    for (op, lot), result in outcomes.items():
        if result != "done":
            continue
        if op == "mint":
            assert chain.base.lot(lot, with_composition=False).state == LotState.ACTIVE
        if op == "accept":
            assert chain.base.lot(lot, with_composition=False).holder == chain.addr("refiner")
    for name in ("LotCreated", "OfferMade", "OfferAccepted"):
        per_lot = events_per_lot(chain.base, name)
        assert all(n == 1 for n in per_lot.values()), f"{name} twice for a lot: {per_lot}"
    # A plain re-run, still through the faults, finishes whatever failed (mint and mint_many are idempotent).
    for i in singles:  # (mint() is idempotent only while the lot is still with its minter, unchanged)
        if chain.base.lot(i, with_composition=False).state == LotState.NONE:
            _until_done(lambda i=i: miner.mint(ore(i)))
    _until_done(lambda: miner.mint_many(bulk, batch_size=10))
    assert sum(events_per_lot(chain.base, "LotCreated").values()) == len(singles) + len(bulk)
    index = EventIndex.open(index_at())  # the sync and audit through the faults, on either backend
    report = _until_done(lambda: audit(party("auditor"), index))
    assert report.passed, report.flags
    faults = {d for (_, d) in proxy.injected}
    assert {"drop-request", "drop-response", "delay"} <= faults
    assert any(m in ("batch", "eth_sendRawTransaction") for (m, _) in proxy.injected)


def events_per_lot(ledger: Ledger, name: str) -> Counter[str]:
    d = ledger.deployment
    topic = "0x" + _EVENTS[name].topic0.hex()
    logs = call(ledger.w3, "eth_getLogs", [{"address": d.ledger, "fromBlock": hex(d.block), "toBlock": "latest", "topics": [topic]}])
    return Counter(log["topics"][1] for log in logs)


def _until_done(fn: Callable[[], Any], tries: int = 20) -> Any:
    for k in range(tries):
        try:
            return fn()
        except LedgerError:
            if k == tries - 1:
                raise
    return None
