// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice A plain OpenZeppelin ERC-1155 with an open mint: the token standard a lot registry is most
/// often compared with, compiled with the ledger's settings (solc 0.8.28, optimizer 10,000 runs, Cancun).
contract ReferenceToken is ERC1155 {
    constructor() ERC1155("") {}

    /// @notice Mint `amount` of a token id to `to` (no access control: a gas reference only).
    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}

/// @notice Whole-transaction gas of the references `scripts/bench_gas.py` sets Rinne's figures against,
/// measured in the same forge run as contracts/_test/Gas.t.sol (`forge test --isolate`: every top-level call
/// is its own transaction, so each figure is what a receipt would show). The Ethereum Attestation Service
/// cannot be vendored here: its figures stay a recorded reference (docs/performance.md).
contract ReferenceGasTest {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    ReferenceToken internal _token;
    address internal constant HOLDER = address(0xA11CE);
    address internal constant RECIPIENT = address(0xB0B);

    function setUp() public {
        _token = new ReferenceToken();
        _token.mint(HOLDER, 1, 1_000_000);
    }

    /// @notice A new token id minted to an externally owned account: one new storage word (the balance;
    /// ERC-1155 keeps no per-id record: no holder, state, composition or ledger head) and the event.
    function test_erc1155MintNewId() public {
        _token.mint(HOLDER, uint256(keccak256("a new lot id")), 1_000_000);
        vm.snapshotGasLastCall("ERC1155 mint of a new id");
    }

    /// @notice The whole balance of an id moved to a new holder in one call (custody change without consent).
    function test_erc1155TransferWhole() public {
        vm.prank(HOLDER);
        _token.safeTransferFrom(HOLDER, RECIPIENT, 1, 1_000_000, "");
        vm.snapshotGasLastCall("ERC1155 safeTransferFrom of a whole balance");
    }
}
