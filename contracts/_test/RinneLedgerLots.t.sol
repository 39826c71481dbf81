// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {IParticipantRegistry} from "../interfaces/IParticipantRegistry.sol";
import {Composition, LotSpec, LotInput, LotInfo, LotState, LotKind, Roles} from "../types/LedgerTypes.sol";

/// @notice Minting, two-phase custody, stale offers and freezing.
contract RinneLedgerLotsTest is RinneTest {
    function setUp() public {
        _deploy();
    }

    // ----------------------------------------------------------------------------------- mint

    function test_mint_storesLotAndEmits() public {
        vm.roll(4242);
        LotSpec memory s = _nickelSpec();
        uint64 seq = _sequence();
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotCreated(s.lotId, miner, NISO4, s.mass, s.origin, s.evidence, s.composition);
        _mint(miner, s);

        LotInfo memory l = _lot(s.lotId);
        assertEq(l.holder, miner, "holder");
        assertEq(uint8(l.state), uint8(LotState.Active), "state");
        assertEq(uint8(l.kind), uint8(LotKind.Material), "kind");
        assertEq(l.epoch, 0, "epoch");
        assertEq(l.updatedBlock, 4242, "updatedBlock");
        assertEq(l.offeredTo, address(0), "offeredTo");
        assertFalse(l.offerCurrent, "no offer");
        assertEq(l.mass, 1_000_000, "mass");
        assertEq(l.commitment, keccak256(abi.encode(NISO4, s.composition)), "commitment is keccak(material, composition)");
        assertEq(ledger.commitmentOf(NISO4, s.composition), l.commitment, "commitmentOf agrees");
        (address holder, LotState state) = ledger.holderOf(s.lotId);
        assertEq(holder, miner, "holderOf holder");
        assertEq(uint8(state), uint8(LotState.Active), "holderOf state");
        assertEq(_sequence(), seq + 1, "one event");
    }

    function test_mint_refinerMayMintToo() public {
        _mint(refiner, _nickelSpec());
    }

    function test_mint_revertsForOtherRoles() public {
        LotSpec memory s = _nickelSpec();
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.MINTERS));
        vm.prank(oem);
        ledger.mint(s);
    }

    function test_mint_revertsWhenIdExists() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotExists.selector, s.lotId));
        vm.prank(refiner);
        ledger.mint(s);
    }

    function test_mint_revertsWhenIdOfConsumedLotIsReused() public {
        LotSpec memory s = _mintNickel(refiner);
        LotSpec memory out = _spec(_newId(), NISO4, s.mass, s.composition);
        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _ones(out), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotExists.selector, s.lotId));
        vm.prank(refiner);
        ledger.mint(s);
    }

    function _expectInvalid(LotSpec memory s) internal {
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidComposition.selector, s.lotId));
        vm.prank(miner);
        ledger.mint(s);
    }

    function test_mint_rejectsInvalidSpecs() public {
        LotSpec memory s = _nickelSpec();
        s.lotId = bytes32(0);
        _expectInvalid(s); // zero id

        s = _nickelSpec();
        s.mass = 0;
        _expectInvalid(s); // zero mass

        s = _nickelSpec();
        s.mass = 222_999;
        _expectInvalid(s); // elements (223,000 g Ni) above the lot's mass

        s = _nickelSpec();
        s.mass = type(uint64).max;
        s.composition.total = _one(AL, LANE_LIMIT); // lane at 2**56
        _expectInvalid(s);

        s = _nickelSpec();
        s.composition.pre = _one(NI, 200_000);
        s.composition.post = _one(NI, 23_001); // pre + post above total
        _expectInvalid(s);

        s = _nickelSpec();
        s.composition.post = _one(CO, 1); // recycled cobalt in a lot without cobalt
        _expectInvalid(s);
    }

    function test_mint_acceptsBoundaryValues() public {
        LotSpec memory s = _nickelSpec();
        s.mass = 223_000; // elements exactly equal to mass
        s.composition.pre = _one(NI, 100_000);
        s.composition.post = _one(NI, 123_000); // recycled exactly equal to total
        _mint(miner, s);

        LotSpec memory big = _nickelSpec();
        big.mass = type(uint64).max;
        big.composition.total = _one(AL, LANE_LIMIT - 1);
        _mint(miner, big);
    }

    function test_mintBatch_createsAllOrNothing() public {
        LotSpec[] memory specs = new LotSpec[](3);
        for (uint256 i; i < 3; ++i) {
            specs[i] = _nickelSpec();
        }
        uint64 seq = _sequence();
        vm.prank(miner);
        ledger.mintBatch(specs);
        assertEq(_sequence(), seq + 3, "three events");
        for (uint256 i; i < 3; ++i) {
            assertEq(_lot(specs[i].lotId).holder, miner, "holder");
        }

        LotSpec[] memory bad = new LotSpec[](2);
        bad[0] = _nickelSpec();
        bad[1] = specs[1]; // exists
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotExists.selector, specs[1].lotId));
        vm.prank(miner);
        ledger.mintBatch(bad);
        assertEq(uint8(_lot(bad[0].lotId).state), uint8(LotState.None), "first lot of a failed batch not created");
    }

    function test_mintBatch_revertsForNonMinter() public {
        LotSpec[] memory specs = new LotSpec[](1);
        specs[0] = _nickelSpec();
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, oem, Roles.MINTERS));
        vm.prank(oem);
        ledger.mintBatch(specs);
    }

    // ------------------------------------------------------------------------- offer / accept

    function test_offerAccept_movesCustody() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferMade(s.lotId, miner, refiner, 0);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        LotInfo memory l = _lot(s.lotId);
        assertEq(l.offeredTo, refiner, "offeredTo");
        assertTrue(l.offerCurrent, "current");
        assertEq(l.holder, miner, "offer alone moves nothing");

        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferAccepted(s.lotId, miner, refiner);
        vm.prank(refiner);
        ledger.accept(s.lotId);
        l = _lot(s.lotId);
        assertEq(l.holder, refiner, "new holder");
        assertEq(l.epoch, 1, "epoch bumped");
        assertEq(l.offeredTo, address(0), "offer cleared");
        assertFalse(l.offerCurrent, "no current offer");
        assertEq(l.commitment, keccak256(abi.encode(NISO4, s.composition)), "content unchanged");
    }

    function test_offer_replacesEarlierOffer() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(miner);
        ledger.offer(s.lotId, cathodeMaker);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        vm.prank(cathodeMaker);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, cathodeMaker, "latest offer wins");
    }

    function test_offer_revertsForNonHolder() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.offer(s.lotId, cathodeMaker);
    }

    function test_offer_revertsForUnknownLot() public {
        bytes32 id = keccak256("nothing");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, id, LotState.None));
        vm.prank(miner);
        ledger.offer(id, refiner);
    }

    function test_offer_revertsForBadRecipients() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecipient.selector, miner));
        vm.prank(miner);
        ledger.offer(s.lotId, miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecipient.selector, outsider));
        vm.prank(miner);
        ledger.offer(s.lotId, outsider);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecipient.selector, address(0)));
        vm.prank(miner);
        ledger.offer(s.lotId, address(0));
        vm.prank(admin);
        ledger.suspend(refiner, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerInvalidRecipient.selector, refiner));
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
    }

    function test_offer_revertsForSuspendedHolder() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(admin);
        ledger.suspend(miner, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0)));
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
    }

    function test_accept_revertsWithoutOffer() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }

    function test_accept_revertsForSomeoneElse() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, cathodeMaker));
        vm.prank(cathodeMaker);
        ledger.accept(s.lotId);
    }

    function test_accept_revertsForUnregisteredCaller() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, outsider, uint16(0)));
        vm.prank(outsider);
        ledger.accept(s.lotId);
    }

    /// @dev A leaked key gets suspended: offers it signed before must not complete.
    function test_accept_revertsWhenHolderWasSuspended() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(admin);
        ledger.suspend(miner, keccak256("key leak"));
        assertTrue(_lot(s.lotId).offerCurrent, "the view still calls the offer current: the holder is checked at accept");
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0)));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, miner, "custody did not move");
        // Once reinstated, the (unchanged) offer can complete.
        vm.prank(admin);
        ledger.reinstate(miner);
        vm.prank(refiner);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, refiner, "moved after reinstatement");
    }

    function test_accept_revertsWhenRecipientWasSuspended() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(admin);
        ledger.suspend(refiner, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, refiner, uint16(0)));
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }

    function test_offerBatch_acceptBatch() public {
        bytes32[] memory ids = new bytes32[](3);
        address[] memory to = new address[](3);
        for (uint256 i; i < 3; ++i) {
            ids[i] = _mintNickel(miner).lotId;
            to[i] = refiner;
        }
        uint64 seq = _sequence();
        vm.prank(miner);
        ledger.offerBatch(ids, to);
        vm.prank(refiner);
        ledger.acceptBatch(ids);
        assertEq(_sequence(), seq + 6, "three offers and three acceptances");
        for (uint256 i; i < 3; ++i) {
            assertEq(_lot(ids[i]).holder, refiner, "moved");
        }
    }

    function test_offerBatch_revertsOnLengthMismatch() public {
        bytes32[] memory ids = new bytes32[](2);
        address[] memory to = new address[](1);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLengthMismatch.selector));
        vm.prank(miner);
        ledger.offerBatch(ids, to);
    }

    function test_acceptBatch_isAtomic() public {
        bytes32 a = _mintNickel(miner).lotId;
        bytes32 b = _mintNickel(miner).lotId;
        vm.prank(miner);
        ledger.offer(a, refiner);
        bytes32[] memory ids = new bytes32[](2);
        ids[0] = a;
        ids[1] = b; // never offered
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, b, refiner));
        vm.prank(refiner);
        ledger.acceptBatch(ids);
        assertEq(_lot(a).holder, miner, "first acceptance rolled back");
    }

    function test_acceptBatch_revertsForSuspendedCaller() public {
        vm.prank(admin);
        ledger.suspend(refiner, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, refiner, uint16(0)));
        vm.prank(refiner);
        ledger.acceptBatch(new bytes32[](0));
    }

    // -------------------------------------------------------------------------- reject/cancel

    function test_reject_clearsOffer() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferRejected(s.lotId, refiner);
        vm.prank(refiner);
        ledger.reject(s.lotId);
        LotInfo memory l = _lot(s.lotId);
        assertEq(l.offeredTo, address(0), "cleared");
        assertEq(l.holder, miner, "holder unchanged");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }

    function test_reject_revertsForOthers() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, cathodeMaker));
        vm.prank(cathodeMaker);
        ledger.reject(s.lotId);
        // With no offer pending, the zero address cannot "reject" the empty slot either.
        bytes32 other = _mintNickel(miner).lotId;
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, address(0), uint16(0)));
        vm.prank(address(0));
        ledger.reject(other);
    }

    function test_suspendedKeyCannotRejectOrCancel() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.startPrank(admin);
        ledger.suspend(refiner, keccak256("key leaked"));
        ledger.suspend(miner, keccak256("key leaked"));
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, refiner, uint16(0)));
        vm.prank(refiner);
        ledger.reject(s.lotId);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, uint16(0)));
        vm.prank(miner);
        ledger.cancel(s.lotId);
        assertEq(ledger.lot(s.lotId).offeredTo, refiner, "offer untouched");
    }

    function test_cancel_clearsOffer() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.OfferCancelled(s.lotId, refiner);
        vm.prank(miner);
        ledger.cancel(s.lotId);
        assertEq(_lot(s.lotId).offeredTo, address(0), "cleared");
    }

    function test_cancel_reverts() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, miner));
        vm.prank(miner);
        ledger.cancel(s.lotId);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.cancel(s.lotId);
        bytes32 none = keccak256("no such lot");
        // An unregistered caller is refused before anything else (deny by default).
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, address(0), uint16(0)));
        vm.prank(address(0));
        ledger.cancel(none);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotHolder.selector, none, refiner));
        vm.prank(refiner);
        ledger.cancel(none);
    }

    // ------------------------------------------------------------------- stale offers (Grid bug)
    // Hyperledger Grid accepted a transfer proposal that no longer described the record. Here an
    // offer is bound to the lot's epoch; anything that changes the lot kills older offers for good.

    function test_staleOffer_cancelledOfferCannotBeAccepted() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(miner);
        ledger.cancel(s.lotId);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }

    function test_staleOffer_afterPartialSplit() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        Composition memory part = _scale(s.composition, 1, 2);
        LotSpec memory out = _spec(_newId(), NISO4, 500_000, part);
        vm.prank(miner);
        ledger.split(_part(s.lotId, NISO4, s.composition, 500_000, part), _ones(out));
        LotInfo memory l = _lot(s.lotId);
        assertEq(l.offeredTo, refiner, "the pointer stays");
        assertFalse(l.offerCurrent, "but the offer is stale");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        // A new offer at the new epoch works.
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(refiner);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, refiner, "fresh offer accepted");
    }

    function test_staleOffer_afterPartialMerge() public {
        LotSpec memory a = _mintNickel(miner);
        LotSpec memory b = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(a.lotId, refiner);
        Composition memory part = _scale(a.composition, 1, 10);
        LotSpec memory out = _spec(_newId(), NISO4, 1_100_000, _addC(part, b.composition));
        vm.prank(miner);
        ledger.merge(_pair(_part(a.lotId, NISO4, a.composition, 100_000, part), _whole(b)), out);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, a.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(a.lotId);
    }

    function test_staleOffer_afterPartialTransform() public {
        LotSpec memory s = _mintNickel(refiner);
        vm.prank(refiner);
        ledger.offer(s.lotId, cathodeMaker);
        Composition memory part = _scale(s.composition, 1, 4);
        LotSpec memory out = _spec(_newId(), PCAM, 100_000, part);
        vm.prank(refiner);
        ledger.transform(_ones(_part(s.lotId, NISO4, s.composition, 250_000, part)), _ones(out), _noLoss());
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, cathodeMaker));
        vm.prank(cathodeMaker);
        ledger.accept(s.lotId);
    }

    function test_staleOffer_afterWholeConsumption() public {
        LotSpec memory s = _mintNickel(refiner);
        vm.prank(refiner);
        ledger.offer(s.lotId, cathodeMaker);
        LotSpec memory out = _spec(_newId(), PCAM, 400_000, s.composition);
        vm.prank(refiner);
        ledger.transform(_ones(_whole(s)), _ones(out), _noLoss());
        assertFalse(_lot(s.lotId).offerCurrent, "stale");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, s.lotId, LotState.Consumed));
        vm.prank(cathodeMaker);
        ledger.accept(s.lotId);
    }

    function test_staleOffer_newOfferToAnotherRecipient() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(miner);
        ledger.offer(s.lotId, cathodeMaker);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }

    function test_staleOffer_freezeKillsOfferEvenAfterUnfreeze() public {
        LotSpec memory s = _mintNickel(miner);
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        vm.prank(auditor);
        ledger.freeze(s.lotId, keccak256("suspicious assay"));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, s.lotId, LotState.Frozen));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        vm.prank(auditor);
        ledger.unfreeze(s.lotId);
        assertFalse(_lot(s.lotId).offerCurrent, "still stale after unfreeze");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
    }

    function test_staleOffer_acceptedOfferCannotBeReplayed() public {
        LotSpec memory s = _mintNickel(miner);
        _transfer(s.lotId, miner, refiner);
        _transfer(s.lotId, refiner, miner); // back to the miner at epoch 2
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNoCurrentOffer.selector, s.lotId, refiner));
        vm.prank(refiner);
        ledger.accept(s.lotId);
        assertEq(_lot(s.lotId).holder, miner, "holder");
    }

    // -------------------------------------------------------------------------- freeze/unfreeze

    function test_freeze_blocksEverythingUntilUnfrozen() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotFrozen(s.lotId, auditor, keccak256("why"));
        vm.prank(auditor);
        ledger.freeze(s.lotId, keccak256("why"));
        LotInfo memory l = _lot(s.lotId);
        assertEq(uint8(l.state), uint8(LotState.Frozen), "frozen");
        assertEq(l.epoch, 1, "epoch bumped");

        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, s.lotId, LotState.Frozen));
        vm.prank(miner);
        ledger.offer(s.lotId, refiner);
        LotSpec memory out = _spec(_newId(), NISO4, s.mass, s.composition);
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, s.lotId, LotState.Frozen));
        vm.prank(miner);
        ledger.split(_whole(s), _ones(out));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, s.lotId, LotState.Frozen));
        vm.prank(auditor);
        ledger.freeze(s.lotId, bytes32(0));

        vm.expectEmit(address(ledger));
        emit IRinneLedger.LotUnfrozen(s.lotId, auditor);
        vm.prank(auditor);
        ledger.unfreeze(s.lotId);
        l = _lot(s.lotId);
        assertEq(uint8(l.state), uint8(LotState.Active), "active again");
        assertEq(l.epoch, 2, "epoch bumped again");
        vm.prank(miner);
        ledger.split(_whole(s), _ones(out));
    }

    function test_freeze_unfreeze_revert() public {
        LotSpec memory s = _mintNickel(miner);
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, Roles.AUDITOR));
        vm.prank(miner);
        ledger.freeze(s.lotId, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerNotFrozen.selector, s.lotId));
        vm.prank(auditor);
        ledger.unfreeze(s.lotId);
        vm.prank(auditor);
        ledger.freeze(s.lotId, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IParticipantRegistry.ParticipantRegistryUnauthorized.selector, miner, Roles.AUDITOR));
        vm.prank(miner);
        ledger.unfreeze(s.lotId);
        bytes32 none = keccak256("none");
        vm.expectRevert(abi.encodeWithSelector(IRinneLedger.RinneLedgerLotNotActive.selector, none, LotState.None));
        vm.prank(auditor);
        ledger.freeze(none, bytes32(0));
    }

    function test_views_unknownLotIsEmpty() public view {
        LotInfo memory l = _lot(keccak256("nothing"));
        assertEq(uint8(l.state), uint8(LotState.None), "state none");
        assertEq(l.holder, address(0), "no holder");
        assertEq(l.commitment, bytes32(0), "no commitment");
    }
}
