"""Random sequences of library operations against a plain-Python model of the ledger.

After every step the chain must agree with the model on holders, masses, element and recycled
vectors and states.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger import Composition, ContractRevert, LotSpec, LotState, Use, errors

EXAMPLES = int(os.environ.get("RINNE_STATE_MACHINE_EXAMPLES", "200"))

grams = st.integers(min_value=0, max_value=50_000)
#: How often each adversarial rule played its cheat (and saw it refused): guards against a vacuous run.
CHEATS: dict[str, int] = {"nickel-only partial use": 0, "loss concentrates recycled": 0}


@pytest.fixture
def machine_chain(chain):
    LedgerMachine.chain = chain
    return chain


class LedgerMachine(RuleBasedStateMachine):
    chain = None  # set by the fixture

    @initialize()
    def start(self) -> None:
        self.snapshot = self.chain.rpc("evm_snapshot")
        self.lots: dict[str, dict] = {}
        self.counter = 0

    def teardown(self) -> None:
        self.chain.rpc("evm_revert", [self.snapshot])
        for sender in self.chain.base._shared["senders"].values():
            sender.resync()

    def _new_id(self) -> str:
        self.counter += 1
        return f"L{self.counter}"

    def _active(self, holder: str | None = None) -> list[str]:
        return sorted(i for i, v in self.lots.items() if v["state"] == LotState.ACTIVE and (holder is None or v["holder"] == holder))

    @rule(ni=grams, co=grams, li=grams, post=st.integers(0, 100), material=st.sampled_from(["NiSO4", "CoSO4"]))
    def mint(self, ni: int, co: int, li: int, post: int, material: str) -> None:
        comp = Composition.of({"Ni": ni, "Co": co, "Li": li}, post={"Ni": ni * post // 100})
        spec = LotSpec(lot_id=self._new_id(), material=material, mass=ni + co + li + 1000, composition=comp)
        self.chain["miner"].mint(spec)
        self.lots[spec.lot_id] = {"holder": "miner", "state": LotState.ACTIVE, "mass": spec.mass, "comp": comp, "material": material}

    @precondition(lambda self: self._active("miner"))
    @rule(data=st.data())
    def transfer_to_refiner(self, data) -> None:
        lot_id = data.draw(st.sampled_from(self._active("miner")))
        self.chain["miner"].offer(lot_id, self.chain.addr("refiner"))
        self.chain["refiner"].accept(lot_id)
        self.lots[lot_id]["holder"] = "refiner"

    @precondition(lambda self: self._active())
    @rule(data=st.data(), share=st.integers(1, 100), pieces=st.integers(1, 3))
    def split(self, data, share: int, pieces: int) -> None:
        lot_id = data.draw(st.sampled_from(self._active()))
        lot = self.lots[lot_id]
        pieces = min(pieces, lot["mass"])  # a 1 g lot splits into one piece at most
        total = max(pieces, lot["mass"] * share // 100)
        masses = [total // pieces] * (pieces - 1) + [total - (total // pieces) * (pieces - 1)]
        ids = [self._new_id() for _ in masses]
        holder = lot["holder"]
        self.chain[holder].split(lot_id, list(zip(ids, masses)))
        used = lot["comp"].take(total, lot["mass"])
        for i, m, comp in zip(ids, masses, used.divide(masses, total)):
            self.lots[i] = {"holder": holder, "state": LotState.ACTIVE, "mass": m, "comp": comp, "material": lot["material"]}
        if total == lot["mass"]:
            lot["state"] = LotState.CONSUMED
        else:
            lot["mass"] -= total
            lot["comp"] = lot["comp"] - used

    @precondition(lambda self: len(self._active()) >= 2)
    @rule(data=st.data())
    def merge(self, data) -> None:
        a = data.draw(st.sampled_from(self._active()))
        same = [i for i in self._active(self.lots[a]["holder"]) if i != a and self.lots[i]["material"] == self.lots[a]["material"]]
        if not same:
            return
        b = data.draw(st.sampled_from(same))
        new = self._new_id()
        holder = self.lots[a]["holder"]
        self.chain[holder].merge([a, b], new)
        self.lots[new] = {
            "holder": holder, "state": LotState.ACTIVE, "mass": self.lots[a]["mass"] + self.lots[b]["mass"],
            "comp": self.lots[a]["comp"] + self.lots[b]["comp"], "material": self.lots[a]["material"],
        }
        self.lots[a]["state"] = self.lots[b]["state"] = LotState.CONSUMED

    @precondition(lambda self: self._active("refiner"))
    @rule(data=st.data(), keep=st.integers(0, 100), partial=st.booleans())
    def transform(self, data, keep: int, partial: bool) -> None:
        lot_id = data.draw(st.sampled_from(self._active("refiner")))
        lot = self.lots[lot_id]
        use_mass = lot["mass"] // 2 if partial and lot["mass"] > 1 else lot["mass"]
        used = lot["comp"].take(use_mass, lot["mass"])
        # The output keeps the inputs' recycled share of each element (the contract refuses more).
        out_comp = used.blend(used.part(keep, 100).total)
        new = self._new_id()
        out = LotSpec(lot_id=new, material="CAM", mass=max(1, out_comp.element_mass), composition=out_comp)
        self.chain["refiner"].transform([Use(lot_id=lot_id, mass=None if use_mass == lot["mass"] else use_mass)], [out])
        self.lots[new] = {"holder": "refiner", "state": LotState.ACTIVE, "mass": out.mass, "comp": out_comp, "material": "CAM"}
        if use_mass == lot["mass"]:
            lot["state"] = LotState.CONSUMED
        else:
            lot["mass"] -= use_mass
            lot["comp"] = lot["comp"] - used

    # Adversarial operations (issue 11): each must be refused by a named error and change nothing.

    @precondition(lambda self: any(self.lots[i]["mass"] > 2 and self.lots[i]["comp"].total[1] for i in self._active("refiner")))
    @rule(data=st.data())
    def cheat_partial_use_takes_only_the_nickel(self, data) -> None:
        # The nickel of the lot "used" as a part weighing just that nickel: all of the lot's nickel goes out
        # with a fraction of its mass (and so of its mass-allocated burden).
        lots = [i for i in self._active("refiner") if self.lots[i]["mass"] > 2 and self.lots[i]["comp"].total[1]]
        lot_id = data.draw(st.sampled_from(lots))
        lot = self.lots[lot_id]
        nickel = lot["comp"].total[1]
        greedy = Composition.of({"Ni": nickel}, post={"Ni": lot["comp"].post[1]}, pre={"Ni": lot["comp"].pre[1]})
        if nickel >= lot["mass"] or lot["comp"].is_part(greedy, nickel, lot["mass"]):
            return  # nothing else in the lot: taking its nickel is taking it whole
        out = LotSpec(lot_id=self._new_id(), material="CAM", mass=nickel, composition=greedy)
        with pytest.raises(errors.revert_class("RinneLedgerNotProRata")):
            self.chain["refiner"].transform([Use(lot_id=lot_id, mass=nickel, composition=greedy)], [out])
        CHEATS["nickel-only partial use"] += 1

    @precondition(lambda self: any(self.lots[i]["comp"].post[1] and self.lots[i]["comp"].post[1] < self.lots[i]["comp"].total[1]
                                   for i in self._active("refiner")))
    @rule(data=st.data())
    def cheat_loss_concentrates_the_recycled_share(self, data) -> None:
        lots = [i for i in self._active("refiner") if self.lots[i]["comp"].post[1] and self.lots[i]["comp"].post[1] < self.lots[i]["comp"].total[1]]
        lot_id = data.draw(st.sampled_from(lots))
        comp = self.lots[lot_id]["comp"]
        # Keep every recycled gram of nickel, declare the virgin rest as loss.
        kept = Composition(total=[comp.post[1] if k == 1 else t for k, t in enumerate(comp.total)],
                           pre=[0 if k == 1 else p for k, p in enumerate(comp.pre)], post=comp.post)
        out = LotSpec(lot_id=self._new_id(), material="CAM", mass=max(1, kept.element_mass), composition=kept)
        with pytest.raises(errors.revert_class("RinneLedgerRecycledShareExceeded")):
            self.chain["refiner"].transform([lot_id], [out])
        CHEATS["loss concentrates recycled"] += 1

    @precondition(lambda self: self._active())
    @rule(data=st.data())
    def stranger_cannot_take(self, data) -> None:
        lot_id = data.draw(st.sampled_from(self._active()))
        with pytest.raises(ContractRevert):
            self.chain["cathode"].accept(lot_id)

    @invariant()
    def chain_agrees_with_model(self) -> None:
        for lot_id, m in getattr(self, "lots", {}).items():
            lot = self.chain.base.lot(lot_id)
            assert lot.state == m["state"], lot_id
            assert lot.holder == self.chain.addr(m["holder"]), lot_id
            if m["state"] == LotState.ACTIVE:
                assert lot.mass == m["mass"], lot_id
                assert lot.composition == m["comp"], lot_id


def test_ledger_state_machine(machine_chain):
    run = LedgerMachine.TestCase
    run.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=6,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        phases=[Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("RINNE_NO_SHRINK") else list(Phase),
    )
    run().runTest()
    if EXAMPLES >= 50:
        assert all(CHEATS.values()), f"an adversarial rule never played its cheat: {CHEATS}"
