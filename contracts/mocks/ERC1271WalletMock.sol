// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title ERC1271WalletMock
/// @notice A contract signer for tests and demos: approves digests signed by its owner key while
/// enabled, and refuses everything once its owner switches it off (a wallet that says yes, then no).
contract ERC1271WalletMock is IERC1271 {
    address private immutable _owner;
    bool private _enabled = true;

    /// @notice Emitted when the owner switched the wallet on or off.
    /// @param enabled Whether it now approves signatures.
    event EnabledChanged(bool enabled);

    /// @notice The caller is not the owner.
    error ERC1271WalletMockUnauthorized(address account);

    /// @param owner_ The key whose signatures the wallet approves.
    constructor(address owner_) {
        _owner = owner_;
    }

    /// @notice Switch approval on or off. Owner only.
    /// @param enabled Whether to approve signatures.
    function setEnabled(bool enabled) external {
        if (msg.sender != _owner) revert ERC1271WalletMockUnauthorized(msg.sender);
        _enabled = enabled;
        emit EnabledChanged(enabled);
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (_enabled && err == ECDSA.RecoverError.NoError && recovered == _owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }
}
