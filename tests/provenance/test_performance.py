"""Speed: trace of a unit with 10,000 ancestor lots from the index, and index sync throughput on Anvil."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prov_synth import Synth, account

from ledger.domain.composition import Composition
from ledger.domain.enums import OpKind, Role
from ledger.figures.footprint import footprint
from ledger.figures.origin import origin_mix
from ledger.index.store import EventIndex
from ledger.queries.trace import trace

MINER, MAKER, VERIFIER = account(11), account(12), account(13)


def _wide_graph(mines: int = 10_000, fan_in: int = 50) -> Synth:
    """`mines` ore lots, transformed `fan_in` at a time, level by level, into one pack."""
    s = Synth()
    s.register(MINER, Role.MINER)
    s.register(MAKER, Role.REFINER | Role.CELL_MAKER)
    s.register(VERIFIER, Role.GWP_VERIFIER)
    comp = Composition.of({"Ni": 10})
    level = []
    for k in range(mines):
        s._create(MINER, f"M{k}", "ORE-NI", 1_000, comp)
        level.append(f"M{k}")
        if k % 500 == 499:
            s.mine()
    s.mine()
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for g in range(0, len(level), fan_in):
            group = level[g : g + fan_in]
            out = f"L{depth}-{g // fan_in}"
            s.op(
                OpKind.TRANSFORM,
                MAKER,
                [(x, 0) for x in group],
                [(out, "NI-INT", 1_000, Composition.of({"Ni": 10 * len(group) * fan_in ** (depth - 1)}))],
            )
            nxt.append(out)
        level = nxt
    s.op(OpKind.BUILD, MAKER, [(level[0], 0)], [("BIG-PACK", "PACK", 1_000, Composition.of({"Ni": 10 * mines}))], unit=(60_000, []))
    return s


@pytest.fixture(scope="module")
def wide_index(tmp_path_factory: pytest.TempPathFactory) -> EventIndex:
    s = _wide_graph()
    ix = EventIndex.open(tmp_path_factory.mktemp("wide") / "index.sqlite")
    s.ingest(ix)
    return ix


def test_trace_of_10k_ancestors_is_not_per_lot_queries(wide_index: EventIndex) -> None:
    """Timed as CPU time (best of five) so that a busy CI machine does not fail it; wall time is printed."""
    t0 = time.perf_counter()
    wide_index.graph()  # built once per open index, then kept in step by every sync
    build = time.perf_counter() - t0
    best_cpu = best_wall = float("inf")
    for _ in range(5):
        c0, w0 = time.process_time(), time.perf_counter()
        t = trace(wide_index, "BIG-PACK", direction="up")
        best_cpu, best_wall = min(best_cpu, time.process_time() - c0), min(best_wall, time.perf_counter() - w0)
    assert len(t.mines) == 10_000 and len(t.lots) > 10_200
    print(
        f"\ntrace of {len(t.lots)} lots / {len(t.ops)} ops: {best_cpu * 1000:.1f} ms CPU, {best_wall * 1000:.1f} ms wall "
        f"(graph loaded once in {build * 1000:.0f} ms)"
    )
    # A guard against a return to per-lot queries (seconds), not a benchmark: CPU time on a loaded 2-core
    # machine reached 0.11 s for a trace that takes 0.05 s alone (scripts/bench_queries.py measures it).
    assert best_cpu < 0.5


def test_footprint_and_origin_of_10k_ancestors(wide_index: EventIndex) -> None:
    t0 = time.perf_counter()
    fp = footprint(wide_index, "BIG-PACK")
    om = origin_mix(wide_index, "BIG-PACK")
    elapsed = time.perf_counter() - t0
    print(f"\nfootprint + origin mix over 10k ancestors: {elapsed * 1000:.0f} ms")
    assert fp.assurance == "missing" and len(fp.weakest) > 10_000
    assert om.grams["Ni"] == {"unknown": pytest.approx(100_000)}
    assert elapsed < 10


@pytest.mark.chain
@pytest.mark.slow
def test_sync_throughput_on_anvil(tmp_path: Path) -> None:
    """Mint 20,000 lots in batches on Anvil and index them: events per second of a full sync."""
    from prov_chain import start_world, stop_world

    from ledger.domain.models import LotSpec

    w = start_world(tmp_path)
    try:
        specs = [
            LotSpec(lot_id=f"BULK-{k}", material="ORE-NI", mass=1_000, composition=Composition.of({"Ni": 10})) for k in range(20_000)
        ]
        w.miner.mint_many(specs)
        ix = EventIndex.open(tmp_path / "index.sqlite")
        t0 = time.perf_counter()
        result = ix.sync(w.admin)
        elapsed = time.perf_counter() - t0
        print(f"\nsync: {result.events} events in {elapsed:.2f} s = {result.events / elapsed:,.0f} events/s")
        assert result.events >= 20_000
        t0 = time.perf_counter()
        st = ix.state()
        print(f"replay of {st.events} events: {time.perf_counter() - t0:.2f} s")
        assert len(st.lots) == 20_000
    finally:
        stop_world(w)
