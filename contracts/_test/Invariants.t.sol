// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {LedgerHandler} from "./invariant/LedgerHandler.sol";
import {LotInfo, LotState, LotKind, PassportStatus, Roles} from "../types/LedgerTypes.sol";

/// @notice Stateful invariants over random operation sequences (handler pattern). The handler keeps a
/// model derived from the specification and records any call whose outcome differs from it.
contract InvariantsTest is RinneTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    LedgerHandler internal handler;

    function setUp() public {
        vm.warp(1_767_225_600);
        _deploy();
        address[] memory ops = new address[](4);
        uint16 opRoles =
            Roles.MINER | Roles.REFINER | Roles.CATHODE_MAKER | Roles.PACK_ASSEMBLER | Roles.SECOND_LIFE | Roles.RECYCLER | Roles.OEM;
        vm.startPrank(admin);
        for (uint256 i; i < 4; ++i) {
            ops[i] = _actor(string.concat("operator", _str(i)));
            ledger.register(ops[i], opRoles, bytes32(i), bytes32(0));
        }
        vm.stopPrank();
        handler = new LedgerHandler(ledger, attestations, admin, auditor, VERIFIER_KEY, ops);
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory s) {
        bytes4[] memory sel = new bytes4[](19);
        sel[0] = LedgerHandler.mint.selector;
        sel[1] = LedgerHandler.mint.selector; // minting twice as likely: keeps lots flowing
        sel[2] = LedgerHandler.offer.selector;
        sel[3] = LedgerHandler.accept.selector;
        sel[4] = LedgerHandler.cancel.selector;
        sel[5] = LedgerHandler.reject.selector;
        sel[6] = LedgerHandler.split.selector;
        sel[7] = LedgerHandler.merge.selector;
        sel[8] = LedgerHandler.transform.selector;
        sel[9] = LedgerHandler.freeze.selector;
        sel[10] = LedgerHandler.suspend.selector;
        sel[11] = LedgerHandler.buildUnit.selector;
        sel[12] = LedgerHandler.setStatus.selector;
        sel[13] = LedgerHandler.repurpose.selector;
        sel[14] = LedgerHandler.recycle.selector;
        sel[15] = LedgerHandler.intrude.selector;
        sel[16] = LedgerHandler.attest.selector;
        sel[17] = LedgerHandler.revoke.selector;
        sel[18] = LedgerHandler.soh.selector;
        s = new FuzzSelector[](1);
        s[0] = FuzzSelector(address(handler), sel);
    }

    /// @dev Guards against a vacuous suite: a fixed pseudo-random walk makes every action take effect
    /// (not merely return early) and the stale-offer and greedy-transform probes get refused.
    function test_handlerExercisesEveryAction() public {
        _walk(600);
        invariant_noCallContradictedTheModel();
        invariant_ledgerMatchesModel();
        invariant_elementConservationAndRecycledContent();
        invariant_usedNoncesStayUsed();
        invariant_headCountsEveryEvent();
        // forgefmt: disable-next-item
        string[24] memory actions = [
            "mint", "offer", "accept", "stale offer refused", "cancel", "reject", "split (part)", "split (whole)",
            "merge", "transform", "greedy transform refused", "freeze", "unfreeze", "suspend/reinstate", "buildUnit",
            "setStatus", "repurpose", "recycle", "attest", "revoke", "intrusion refused", "soh",
            "recycle (post-consumer)", "recycle (pre-consumer)"
        ];
        for (uint256 i; i < actions.length; ++i) {
            assertTrue(handler.calls(actions[i]) > 0, string.concat("never took effect: ", actions[i]));
        }
    }

    function _walk(uint256 steps) internal {
        for (uint256 i; i < steps; ++i) {
            uint256 r = uint256(keccak256(abi.encode("walk", i)));
            uint256 a = r % 20;
            uint256 x = r >> 16;
            uint256 y = r >> 96;
            uint256 b = r >> 240; // flag bits independent of the action chosen by r % 20
            if (a <= 2) handler.mint(x, y);
            else if (a == 3) handler.offer(x, y);
            else if (a == 4 || a == 5) handler.accept(x);
            else if (a == 6) handler.cancel(x);
            else if (a == 7) handler.reject(x);
            else if (a == 8) handler.split(x, y, b & 1 == 0);
            else if (a == 9) handler.merge(x);
            else if (a == 10) handler.transform(x, y, b & 3 == 0);
            else if (a == 11) handler.freeze(x, b & 1 == 0);
            else if (a == 12 && b & 7 == 0) handler.suspend(x);
            else if (a == 13) handler.buildUnit(x);
            else if (a == 14) handler.setStatus(x, uint8(y));
            else if (a == 15) handler.repurpose(x);
            else if (a == 16) handler.recycle(x, y);
            else if (a == 17) handler.intrude(x, y);
            else if (a == 18) b & 1 == 0 ? handler.attest(x, uint8(y)) : handler.revoke(x, b & 2 == 0);
            else if (a == 19) handler.soh(x, y);
        }
    }

    /// @dev No call behaved differently from the model: no stale offer accepted, no non-holder moved a
    /// lot, no forbidden passport edge, no recycled credit created, no used nonce accepted.
    function invariant_noCallContradictedTheModel() public view {
        uint256 n = handler.violationCount();
        if (n != 0) revert(string.concat("model violated: ", handler.violations(0)));
    }

    /// @dev Every lot (active, frozen or consumed) is exactly as the model says: holder, state, kind,
    /// epoch, mass, commitment and passport status. Consumed lots therefore never change, and holders
    /// change only by accepted current offers.
    function invariant_ledgerMatchesModel() public view {
        uint256 n = handler.lotCount();
        for (uint256 i; i < n; ++i) {
            bytes32 id = handler.ids(i);
            LedgerHandler.Model memory m = handler.model(id);
            LotInfo memory l = ledger.lot(id);
            assertEq(l.holder, m.holder, "holder");
            assertEq(uint8(l.state), uint8(m.state), "state");
            assertEq(uint8(l.kind), uint8(m.kind), "kind");
            assertEq(l.epoch, m.epoch, "epoch");
            assertEq(l.mass, m.mass, "mass");
            assertEq(l.commitment, keccak256(abi.encode(m.material, m.comp)), "commitment");
            assertEq(l.offeredTo, m.pointer, "offer pointer");
            assertEq(l.offerCurrent, m.currentOffer != 0 && m.state == LotState.Active, "offer current");
            if (m.kind == LotKind.Unit) assertEq(uint8(ledger.unit(id).status), uint8(m.status), "passport status");
            else assertEq(uint8(ledger.unit(id).status), uint8(PassportStatus.None), "material has no passport");
        }
    }

    /// @dev Per element: what live lots hold plus declared losses equals what was minted; recycled parts
    /// never exceed totals, and post-consumer content never exceeds what was minted as such plus what
    /// recycling recovered.
    function invariant_elementConservationAndRecycledContent() public view {
        uint256[8] memory live;
        uint256[8] memory pre;
        uint256[8] memory post;
        uint256 n = handler.lotCount();
        for (uint256 i; i < n; ++i) {
            LedgerHandler.Model memory m = handler.model(handler.ids(i));
            if (m.state == LotState.Consumed) continue;
            for (uint256 e; e < 8; ++e) {
                uint256 t = _lane(m.comp.total, e);
                uint256 p = _lane(m.comp.pre, e);
                uint256 q = _lane(m.comp.post, e);
                assertLe(p + q, t, "recycled within total");
                live[e] += t;
                pre[e] += p;
                post[e] += q;
            }
        }
        for (uint256 e; e < 8; ++e) {
            assertEq(live[e] + handler.lost(e), handler.minted(e), "element conserved");
            assertLe(pre[e], handler.mintedPre(e) + handler.recoveredPre(e), "pre-consumer only from mint or recycle");
            assertLe(post[e], handler.mintedPost(e) + handler.recoveredPost(e), "post-consumer only from mint or recycle");
        }
    }

    function invariant_usedNoncesStayUsed() public view {
        uint256 n = handler.nonceCount();
        for (uint256 i; i < n; ++i) {
            (address signer, uint256 nonce) = handler.usedNonce(i);
            assertTrue(attestations.nonceUsed(signer, nonce), "nonce stays used");
        }
    }

    /// @dev The head counts exactly the events the model expects, and its hash chain is the one recomputed
    /// from the logs the handler saw.
    function invariant_headCountsEveryEvent() public view {
        (uint64 seq, bytes32 head) = ledger.ledgerHead();
        assertEq(seq, handler.expectedSeq(), "ledger sequence = events expected by the model");
        assertEq(uint256(head), handler.foldedHead(), "ledger head = fold of the emitted logs");
        (seq, head) = attestations.ledgerHead();
        assertEq(seq, handler.expectedAttSeq(), "attestation sequence");
        assertEq(uint256(head), handler.foldedAttHead(), "attestation head = fold of the emitted logs");
    }
}
