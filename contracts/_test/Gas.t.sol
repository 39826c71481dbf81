// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RinneTest} from "./utils/RinneTest.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {VaultKeys} from "../VaultKeys.sol";
import {IRinneLedger} from "../interfaces/IRinneLedger.sol";
import {GwpAttestation, ProcessInventory} from "../interfaces/IGwpAttestations.sol";
import {Composition, LotSpec, LotInput, PassportStatus, Roles} from "../types/LedgerTypes.sol";

/// @notice Whole-transaction gas of each operation. Every test makes exactly one measured call and
/// records it with `snapshotGasLastCall`; under `forge test --isolate` every top-level call is its own
/// transaction, so the figure includes the 21,000 base cost, calldata and cold storage access, as a
/// receipt would. `scripts/gas_check.py` runs this suite and compares the figures with `.gas-snapshot`.
/// @dev Inputs are realistic in size: keccak ids, 6-7 digit element masses, origin and evidence hashes,
/// because calldata bytes are part of the cost.
contract GasTest is RinneTest {
    // Reference cathode active material (NMC811) per tonne: Li 71 kg, Ni 483 kg, Co 61 kg, Mn 57 kg.
    uint256[8] internal _cam = [uint256(71_000), 483_000, 61_000, 57_000, 0, 0, 0, 0];

    LotSpec[] internal _lots; // minted in setUp, held by cathodeMaker
    LotSpec internal _offered; // offered by miner to refiner in setUp
    LotSpec internal _toOffer; // held by miner
    bytes32 internal _uid; // an attestation to revoke
    ERC1271WalletMock internal _wallet;
    LotSpec internal _pack1; // an Original pack held by oem
    LotSpec internal _pack2; // a second pack held by secondLife, and a third
    LotSpec internal _pack3;
    LotSpec internal _wastePack; // a Waste pack held by recycler
    LotSpec[] internal _cells; // cell lots held by packer
    bytes32[] internal _minerLots; // ten lots held by miner
    bytes32[] internal _offeredLots; // ten lots offered by miner to refiner

    function setUp() public {
        _deploy();
        vm.prank(admin);
        ledger.grantRoles(miner, Roles.REFINER); // lets the miner mint CAM-like lots for the transform cases
        _wallet = new ERC1271WalletMock(verifier);
        vm.prank(admin);
        ledger.register(address(_wallet), Roles.GWP_VERIFIER, keccak256("Wallet verifier"), bytes32(0));

        for (uint256 i; i < 32; ++i) {
            LotSpec memory s = _spec(_newId(), CAM, 1_000_000, _virgin(_cam));
            _mint(miner, s);
            _transfer(s.lotId, miner, cathodeMaker);
            _lots.push(s);
        }
        _toOffer = _nickelSpec();
        _mint(miner, _toOffer);
        _offered = _nickelSpec();
        _mint(miner, _offered);
        vm.prank(miner);
        ledger.offer(_offered.lotId, refiner);

        for (uint256 i; i < 10; ++i) {
            LotSpec memory m = _nickelSpec();
            _mint(miner, m);
            _minerLots.push(m.lotId);
            LotSpec memory o = _nickelSpec();
            _mint(miner, o);
            vm.prank(miner);
            ledger.offer(o.lotId, refiner);
            _offeredLots.push(o.lotId);
        }

        GwpAttestation memory a = _attestationFor(_lots[0].lotId, 7);
        _uid = attestations.attest(a, verifier, _signAttestation(VERIFIER_KEY, a));

        for (uint256 i; i < 2; ++i) {
            LotSpec memory c = _spec(_newId(), CELL, 400_000, _virgin(_scaled(_cam, 400_000)));
            _mint(miner, c);
            _transfer(c.lotId, miner, packer);
            _cells.push(c);
        }
        _pack1 = _buildPack(oem, "VIN-1");
        vm.prank(oem);
        ledger.authoriseDiagnostician(_pack1.lotId, diagnostician, true);
        _pack2 = _buildPack(secondLife, "VIN-2");
        _pack3 = _buildPack(secondLife, "VIN-3");
        // A pack at the end of a used life (held by the OEM, with an SOH record showing throughput), so that
        // what is recovered from it is post-consumer.
        _wastePack = _buildPack(oem, "VIN-4");
        vm.warp(block.timestamp + 365 days);
        vm.prank(oem);
        ledger.recordSoh(_wastePack.lotId, _soh(6_500, 300, 20_000_000));
        vm.prank(oem);
        ledger.setStatus(_wastePack.lotId, PassportStatus.Waste, keccak256("end of life"));
        _transfer(_wastePack.lotId, oem, recycler);
    }

    function _scaled(uint256[8] memory e, uint256 perMillion) internal pure returns (uint256[8] memory r) {
        for (uint256 i; i < 8; ++i) {
            r[i] = e[i] * perMillion / 1_000_000;
        }
    }

    /// @dev A 450 kg pack built from a fresh cell lot, handed to `holder`.
    function _buildPack(address holder, string memory serial) internal returns (LotSpec memory p) {
        LotSpec memory c = _spec(_newId(), CELL, 400_000, _virgin(_scaled(_cam, 400_000)));
        _mint(miner, c);
        _transfer(c.lotId, miner, packer);
        p = _spec(_newId(), PACK, 450_000, c.composition);
        vm.prank(packer);
        ledger.buildUnit(_ones(_whole(c)), p, _unitSpec(serial, 75_000), _noLoss());
        _transfer(p.lotId, packer, holder);
    }

    function _inputs(uint256 n) internal view returns (LotInput[] memory ins, Composition memory sum) {
        ins = new LotInput[](n);
        for (uint256 i; i < n; ++i) {
            ins[i] = _whole(_lots[i]);
            sum = _addC(sum, _lots[i].composition);
        }
    }

    // ----------------------------------------------------------------------------------- lots

    function test_mint() public {
        LotSpec memory s = _nickelSpec();
        vm.prank(miner);
        ledger.mint(s);
        vm.snapshotGasLastCall("mint");
    }

    function test_mintBatch10() public {
        LotSpec[] memory specs = new LotSpec[](10);
        for (uint256 i; i < 10; ++i) {
            specs[i] = _nickelSpec();
        }
        vm.prank(miner);
        ledger.mintBatch(specs);
        vm.snapshotValue("mintBatch10 per lot", vm.snapshotGasLastCall("mintBatch10") / 10);
    }

    function test_offer() public {
        vm.prank(miner);
        ledger.offer(_toOffer.lotId, refiner);
        vm.snapshotGasLastCall("offer");
    }

    function test_accept() public {
        vm.prank(refiner);
        ledger.accept(_offered.lotId);
        vm.snapshotGasLastCall("accept");
    }

    function test_offerBatch10() public {
        address[] memory to = new address[](10);
        for (uint256 i; i < 10; ++i) {
            to[i] = refiner;
        }
        vm.prank(miner);
        ledger.offerBatch(_minerLots, to);
        vm.snapshotValue("offerBatch10 per lot", vm.snapshotGasLastCall("offerBatch10") / 10);
    }

    function test_acceptBatch10() public {
        vm.prank(refiner);
        ledger.acceptBatch(_offeredLots);
        vm.snapshotValue("acceptBatch10 per lot", vm.snapshotGasLastCall("acceptBatch10") / 10);
    }

    function test_cancel() public {
        vm.prank(miner);
        ledger.cancel(_offered.lotId);
        vm.snapshotGasLastCall("cancel");
    }

    function _splitInto(uint256 n) internal {
        LotSpec memory src = _lots[0];
        LotSpec[] memory outs = new LotSpec[](n);
        Composition memory rest = src.composition;
        for (uint256 i; i < n; ++i) {
            Composition memory c = i + 1 == n ? rest : _scale(src.composition, 1, n);
            rest = i + 1 == n ? rest : _sub(rest, c);
            outs[i] = _spec(_newId(), CAM, uint64(i + 1 == n ? 1_000_000 - (n - 1) * (1_000_000 / n) : 1_000_000 / n), c);
        }
        vm.prank(cathodeMaker);
        ledger.split(_whole(src), outs);
    }

    function test_split2() public {
        _splitInto(2);
        vm.snapshotGasLastCall("split into 2");
    }

    function test_split8() public {
        _splitInto(8);
        vm.snapshotGasLastCall("split into 8");
    }

    function test_splitPartial2() public {
        LotSpec memory src = _lots[0];
        Composition memory part = _scale(src.composition, 1, 4);
        LotSpec[] memory outs = new LotSpec[](2);
        Composition memory half = _scale(part, 1, 2);
        outs[0] = _spec(_newId(), CAM, 125_000, half);
        outs[1] = _spec(_newId(), CAM, 125_000, _sub(part, half));
        vm.prank(cathodeMaker);
        ledger.split(_part(src.lotId, CAM, src.composition, 250_000, part), outs);
        vm.snapshotGasLastCall("split 1/4 of a lot into 2");
    }

    function _mergeOf(uint256 n) internal {
        (LotInput[] memory ins, Composition memory sum) = _inputs(n);
        LotSpec memory out = _spec(_newId(), CAM, uint64(n * 1_000_000), sum);
        vm.prank(cathodeMaker);
        ledger.merge(ins, out);
    }

    function test_merge2() public {
        _mergeOf(2);
        vm.snapshotGasLastCall("merge 2");
    }

    function test_merge8() public {
        _mergeOf(8);
        vm.snapshotGasLastCall("merge 8");
    }

    function test_merge32() public {
        _mergeOf(32);
        vm.snapshotGasLastCall("merge 32");
    }

    /// @dev CAM lots into cell lots: 2 % of every element lost, the rest split evenly over the outputs.
    function _transform(uint256 n, uint256 m) internal {
        (LotInput[] memory ins, Composition memory sum) = _inputs(n);
        Composition memory kept = _scale(sum, 98, 100);
        Composition memory loss = _sub(sum, kept);
        LotSpec[] memory outs = new LotSpec[](m);
        Composition memory rest = kept;
        for (uint256 i; i < m; ++i) {
            Composition memory c = i + 1 == m ? rest : _scale(kept, 1, m);
            rest = _sub(rest, c);
            outs[i] = _spec(_newId(), CELL, uint64(n * 1_200_000 / m), c);
        }
        vm.prank(cathodeMaker);
        ledger.transform(ins, outs, loss.total);
    }

    function test_transform1to1() public {
        _transform(1, 1);
        vm.snapshotGasLastCall("transform 1->1");
    }

    function test_transform4to1() public {
        _transform(4, 1);
        vm.snapshotGasLastCall("transform 4->1");
    }

    function test_transform5to1() public {
        _transform(5, 1);
        vm.snapshotGasLastCall("transform 5->1");
    }

    function test_transform16to2() public {
        _transform(16, 2);
        vm.snapshotGasLastCall("transform 16->2");
    }

    function test_freeze() public {
        vm.prank(auditor);
        ledger.freeze(_toOffer.lotId, keccak256("investigation"));
        vm.snapshotGasLastCall("freeze");
    }

    // ---------------------------------------------------------------------------- attestations

    function test_attestEoa() public {
        GwpAttestation memory a = _attestationFor(_lots[1].lotId, 8);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        attestations.attest(a, verifier, sig);
        vm.snapshotGasLastCall("attest (EOA)");
    }

    function test_attestErc1271() public {
        GwpAttestation memory a = _attestationFor(_lots[1].lotId, 8);
        bytes memory sig = _signAttestation(VERIFIER_KEY, a);
        attestations.attest(a, address(_wallet), sig);
        vm.snapshotGasLastCall("attest (ERC-1271)");
    }

    function test_attestInventory() public {
        ProcessInventory memory p = _inventoryFor(_lots[1].lotId, 9);
        bytes memory sig = _signInventory(VERIFIER_KEY, p);
        attestations.attestInventory(p, verifier, sig);
        vm.snapshotGasLastCall("attestInventory (EOA)");
    }

    function test_revoke() public {
        vm.prank(verifier);
        attestations.revoke(_uid, keccak256("superseded"));
        vm.snapshotGasLastCall("revoke");
    }

    // ---------------------------------------------------------------------------------- units

    function test_buildUnit() public {
        LotSpec memory p = _spec(_newId(), PACK, 850_000, _addC(_cells[0].composition, _cells[1].composition));
        vm.prank(packer);
        ledger.buildUnit(_pair(_whole(_cells[0]), _whole(_cells[1])), p, _unitSpec("VIN-9", 75_000), _noLoss());
        vm.snapshotGasLastCall("buildUnit (2 cell lots)");
    }

    function test_recordSoh() public {
        vm.prank(diagnostician);
        ledger.recordSoh(_pack1.lotId, _soh(8_700, 1_200, 95_000_000));
        vm.snapshotGasLastCall("recordSoh");
    }

    /// A unit's later records: the root's word is written already (a warm rewrite, not a fresh word).
    function test_recordSohAgain() public {
        vm.prank(diagnostician);
        ledger.recordSoh(_pack1.lotId, _soh(8_700, 1_200, 95_000_000));
        vm.prank(diagnostician);
        ledger.recordSoh(_pack1.lotId, _soh(8_600, 1_300, 99_000_000));
        vm.snapshotGasLastCall("recordSoh (a later record)");
    }

    function test_correctSoh() public {
        vm.prank(diagnostician);
        ledger.recordSoh(_pack1.lotId, _soh(8_700, 1_200, 95_000_000));
        vm.prank(diagnostician);
        ledger.correctSoh(_pack1.lotId, _soh(8_700, 1_100, 90_000_000));
        vm.snapshotGasLastCall("correctSoh");
    }

    function test_authoriseDiagnostician() public {
        vm.prank(secondLife);
        ledger.authoriseDiagnostician(_pack2.lotId, diagnostician, true);
        vm.snapshotGasLastCall("authoriseDiagnostician");
    }

    function test_freezeBatch10() public {
        bytes32[] memory ids = new bytes32[](10);
        for (uint256 i; i < 10; ++i) {
            ids[i] = _minerLots[i];
        }
        vm.prank(auditor);
        ledger.freezeBatch(ids, keccak256("lineage under investigation"));
        vm.snapshotValue("freezeBatch10 per lot", vm.snapshotGasLastCall("freezeBatch10") / 10);
    }

    function test_setStatus() public {
        vm.prank(oem);
        ledger.setStatus(_pack1.lotId, PassportStatus.Reused, keccak256("diagnosis"));
        vm.snapshotGasLastCall("setStatus");
    }

    function test_repurpose() public {
        LotSpec memory ess = _spec(_newId(), ESS, 900_000, _addC(_pack2.composition, _pack3.composition));
        vm.prank(secondLife);
        ledger.repurpose(_pair(_whole(_pack2), _whole(_pack3)), ess, _unitSpec("ESS-1", 120_000), _noLoss());
        vm.snapshotGasLastCall("repurpose (2 packs)");
    }

    function test_recycle() public {
        uint256[8] memory t = _unpack(_wastePack.composition.total);
        LotSpec[] memory outs = new LotSpec[](3);
        outs[0] = _spec(_newId(), NISO4, 1_500_000, _recovered(_scaled(_onlyEl(t, NI), 950_000)));
        outs[1] = _spec(_newId(), COSO4, 300_000, _recovered(_scaled(_onlyEl(t, CO), 950_000)));
        outs[2] = _spec(_newId(), LI2CO3, 150_000, _recovered(_scaled(_onlyEl(t, LI), 900_000)));
        Composition memory made = _addC(_addC(outs[0].composition, outs[1].composition), outs[2].composition);
        vm.prank(recycler);
        uint256[2] memory loss = [_wastePack.composition.total[0] - made.total[0], _wastePack.composition.total[1] - made.total[1]];
        ledger.recycle(_whole(_wastePack), outs, loss);
        vm.snapshotGasLastCall("recycle (3 recovered lots)");
    }

    function _onlyEl(uint256[8] memory e, uint256 i) internal pure returns (uint256[8] memory r) {
        r[i] = e[i];
    }

    // ------------------------------------------------------------------------------ vault keys

    function test_publishVaultKey() public {
        VaultKeys keys = new VaultKeys(IRinneLedger(address(ledger)));
        vm.prank(oem);
        keys.publishVaultKey(keccak256("oem vault key"));
        vm.snapshotGasLastCall("publishVaultKey");
        vm.prank(oem);
        keys.publishVaultKey(keccak256("oem vault key, rotated"));
        vm.snapshotGasLastCall("publishVaultKey (a replacement)");
    }
}
