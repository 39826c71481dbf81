"""The connection under every :class:`ledger.Ledger`: node, deployment, acting account, and sending calls."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from typing_extensions import Self
from web3 import Web3

from ledger import errors
from ledger.chain import node as _node
from ledger.chain.abi import ContractAbi, artifact, contract_abi
from ledger.chain.evm import evm_build
from ledger.chain.rpc import batch, call, make_web3
from ledger.chain.trust import verify_deployment
from ledger.chain.tx import Sender, to_receipt
from ledger.domain.ids import hex_of
from ledger.domain.models import (
    Deployment,
    Receipt,
)
from ledger.local.deployments import load_deployment, save_deployment

LEDGER_ABI = contract_abi("RinneLedger")


GWP_ABI = contract_abi("GwpAttestations")


VAULT_KEYS_ABI = contract_abi("VaultKeys")


_ZERO32 = b"\0" * 32


_ZERO_WORDS = ([0, 0], [0, 0], [0, 0])


#: How ``web3_clientVersion`` begins on each development node: "anvil/v1.7.1",
#: "Ganache/v7.9.2/EthereumJS TestRPC/v7.9.2/ethereum-js", "HardhatNetwork/3.3.0/@nomicfoundation/edr/0.3.8".
_NODE_MARKS = (("anvil", "anvil/"), ("ganache", "ganache/"), ("hardhat", "hardhatnetwork/"))


#: The balance-setting method of each development node (see :meth:`Ledger.fund`).
_FUND_METHODS = {"anvil": "anvil_setBalance", "ganache": "evm_setAccountBalance", "hardhat": "hardhat_setBalance"}


class LedgerBase:
    """Connect, deploy, send and call; the operations live in :class:`ledger.Ledger`."""

    def __init__(
        self,
        w3: Web3,
        chain_id: int,
        deployment: Deployment | None = None,
        *,
        account: LocalAccount | None = None,
        confirmations: int = 0,
        data_dir: Path | None = None,
        node: _node.NodeInfo | None = None,
        _shared: dict[str, Any] | None = None,
    ) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        # Ledgers made by with_account share the deployment and the per-account nonce keepers.
        self._shared = _shared if _shared is not None else {"deployment": deployment, "senders": {}}
        self.account = account
        self.confirmations = confirmations
        self.data_dir = Path(data_dir or _node.default_data_dir())
        self.node = node

    @property
    def deployment(self) -> Deployment | None:
        """The contract suite this ledger talks to (None until deployed or recorded)."""
        deployment: Deployment | None = self._shared["deployment"]
        return deployment

    @deployment.setter
    def deployment(self, value: Deployment | None) -> None:
        self._shared["deployment"] = value

    def __repr__(self) -> str:
        who = self.account.address if self.account else "read-only"
        return f"Ledger(chain {self.chain_id}, {who})"

    @classmethod
    def connect(
        cls,
        rpc_url: str | None = None,
        *,
        chain_id: int | None = None,
        account: LocalAccount | None = None,
        data_dir: Path | str | None = None,
        confirmations: int = 0,
        port: int | None = None,
        deployment: Deployment | None = None,
    ) -> Self:
        """Connect to `rpc_url`, or to the managed local Anvil node (started on demand) when it is None.

        `chain_id` guards against the wrong chain; the recorded deployment for the chain is loaded
        from the data directory when there is one.
        """
        data_dir = Path(data_dir or _node.default_data_dir())
        node = None
        if rpc_url is None:
            node = _node.start(data_dir, port=port)
            rpc_url = node.rpc_url
        w3 = make_web3(rpc_url)
        actual = int(call(w3, "eth_chainId", []), 16)
        if chain_id is not None and actual != chain_id:
            raise errors.WrongChain(f"{rpc_url} serves chain {actual}, expected {chain_id}")
        deployment = deployment or load_deployment(data_dir, actual)
        return cls(w3, actual, deployment, account=account, confirmations=confirmations, data_dir=data_dir, node=node)

    def with_account(self, account: LocalAccount) -> Self:
        """Return a Ledger on the same connection acting as `account` (nonces shared per account)."""
        return type(self)(
            self.w3,
            self.chain_id,
            account=account,
            confirmations=self.confirmations,
            data_dir=self.data_dir,
            node=self.node,
            _shared=self._shared,
        )

    @property
    def address(self) -> str:
        """The acting account's address."""
        return self._sender().address

    def _sender(self) -> Sender:
        if self.account is None:
            raise errors.ConfigError("no account: this operation signs a transaction (use --account NAME)")
        senders: dict[str, Sender] = self._shared["senders"]
        sender = senders.get(self.account.address)
        if sender is None:
            sender = Sender(self.w3, self.account, self.chain_id, self.confirmations)
            senders[self.account.address] = sender
        return sender

    def _deployment(self) -> Deployment:
        if self.deployment is None:
            raise errors.NotDeployed(f"no Rinne deployment recorded for chain {self.chain_id}: run `rinne deploy` first")
        return self.deployment

    def check_deployment(self) -> Deployment:
        """Return the deployment after checking that the chain holds the shipped contracts there, wired to each other.

        Raises NotDeployed when the recorded addresses have no code (a reset node) and DeploymentMismatch when
        the code or the wiring is not the shipped suite's (see ledger/chain/trust.py).
        """
        d = self._deployment()
        verify_deployment(self.w3, d)
        return d

    def node_kind(self) -> str:
        """Which development node serves this connection: "anvil", "ganache", "hardhat", or "other".

        Read from ``web3_clientVersion`` once per connection (ledgers made by :meth:`with_account` share it).
        """
        kind = self._shared.get("node_kind")
        if kind is None:
            try:
                version = str(call(self.w3, "web3_clientVersion", [])).lower()
            except errors.ConnectionFailed:
                raise
            except errors.ChainError:
                version = ""
            kind = next((k for k, mark in _NODE_MARKS if version.startswith(mark)), "other")
            self._shared["node_kind"] = kind
        return kind

    def evm_build(self) -> str:
        """Which EVM build of the contracts this node runs: "cancun", or "shanghai" on a node without MCOPY.

        :meth:`deploy` deploys that build and records it (``Deployment.evm_version``). The node is probed
        once per connection (see ledger/chain/evm.py), not recognised by name.
        """
        build = self._shared.get("evm_build")
        if build is None:
            build = self._shared["evm_build"] = evm_build(self.w3)
        return str(build)

    def fund(self, address: str, wei: int = 10**21) -> None:
        """Give `address` a balance on a local development chain; dev chains only.

        Each node names the method differently: ``anvil_setBalance`` (Anvil), ``evm_setAccountBalance``
        (Ganache), ``hardhat_setBalance`` (the Hardhat node, also understood by Anvil).
        Any other node is asked with ``anvil_setBalance`` (a real chain refuses it: :class:`~ledger.errors.ChainError`).
        """
        method = _FUND_METHODS.get(self.node_kind(), "anvil_setBalance")
        call(self.w3, method, [to_checksum_address(address), hex(wei)])

    def deploy(self, admin: str | None = None, *, record: bool = True, authority_vault_key: bytes | str | None = None) -> Deployment:
        """Deploy RinneLedger, GwpAttestations and the vault key registry (VaultKeys) and record them for this chain.

        `authority_vault_key` (the authority tier's X25519 vault public key, 32 bytes) goes into the deployment
        record: every SOH record's opening is then wrapped to it, so the authority's audit opens them all.
        """
        if isinstance(authority_vault_key, str):
            authority_vault_key = bytes.fromhex(authority_vault_key.removeprefix("0x"))
        if authority_vault_key is not None and len(authority_vault_key) != 32:
            raise errors.InvalidInput("an authority vault key is an X25519 public key: 32 bytes")
        sender = self._sender()
        admin = to_checksum_address(admin or sender.address)
        evm = self.evm_build()
        ledger_code = bytes.fromhex(artifact("RinneLedger", evm)["bytecode"][2:]) + abi_encode(["address"], [admin])
        receipt, raw = sender.transact(None, ledger_code)
        ledger_addr = to_checksum_address(raw["contractAddress"])
        gwp_code = bytes.fromhex(artifact("GwpAttestations", evm)["bytecode"][2:]) + abi_encode(["address"], [ledger_addr])
        _, raw2 = sender.transact(None, gwp_code)
        keys_code = bytes.fromhex(artifact("VaultKeys", evm)["bytecode"][2:]) + abi_encode(["address"], [ledger_addr])
        _, raw3 = sender.transact(None, keys_code)
        deployment = Deployment(
            chain_id=self.chain_id,
            ledger=ledger_addr,
            attestations=to_checksum_address(raw2["contractAddress"]),
            block=receipt.block_number,
            admin=admin,
            source_hash=artifact("RinneLedger", evm).get("sourceHash"),
            authority_vault_key="0x" + authority_vault_key.hex() if authority_vault_key is not None else None,
            evm_version=evm,
            vault_keys=to_checksum_address(raw3["contractAddress"]),
        )
        if record:
            save_deployment(self.data_dir, deployment)
        self.deployment = deployment
        return deployment

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Make one JSON-RPC request of the node (e.g. ``evm_increaseTime`` on a development node).

        Reverts become named :class:`ledger.errors.ContractRevert` subclasses, other errors
        :class:`ledger.errors.ChainError`.
        """
        return call(self.w3, method, list(params))

    def rpc_batch(self, requests: Iterable[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send read requests as one JSON-RPC batch and return their results in order."""
        return batch(self.w3, [(m, list(p)) for m, p in requests])

    def send_raw(self, to: str, data: bytes, *, gas: int | None = None) -> Receipt:
        """Send one transaction with calldata `data` to the contract at `to` as the acting account, and wait for it.

        For calls the library has no method for, or calls it would refuse (e.g. to show that the contract
        refuses them too): `data` is encoded by the caller (``contract_abi(name).fn(f).encode(...)``). Without
        `gas` the call is estimated first, so a revert raises its named :class:`ledger.errors.ContractRevert`
        before anything is sent.
        """
        receipt, _ = self._sender().transact(to_checksum_address(to), data, gas=gas)
        return receipt

    def deploy_code(self, code: bytes) -> str:
        """Deploy a contract from its creation code (bytecode, then the ABI-encoded constructor arguments)
        as the acting account; return the new contract's checksummed address."""
        _, raw = self._sender().transact(None, code)
        return to_checksum_address(raw["contractAddress"])

    def send_many(self, calls: Sequence[tuple[str, bytes, int]]) -> list[Receipt]:
        """Send many raw transactions, pipelined, as the acting account; return their receipts in order.

        Each call is (to, calldata, gas): gas is given, not estimated, so that the calls can be in flight
        together. A failed transaction raises its named error (later ones may already be mined). On a node
        that mines only when asked, the library mines the transactions itself, as the bulk methods do.
        """
        return [to_receipt(r) for r in self._sender().send_many(calls)]

    def resync(self, *, every_account: bool = False) -> None:
        """Forget what this account learned of the node: its next nonce and whether the node mines on request.

        The next transaction asks the node again. Call it after another client sent from the same account,
        after switching the node's mining mode (e.g. ``evm_setAutomine``), or, with ``every_account=True``,
        after reverting the chain to a snapshot; every Ledger on this connection acting as the same
        account (see :meth:`with_account`) is affected.
        """
        senders: dict[str, Sender] = self._shared["senders"]
        if every_account:
            senders.clear()
        elif self.account is not None:
            senders.pop(self.account.address, None)

    def _target(self, contract: str) -> tuple[ContractAbi, str]:
        """The ABI and address of one of the deployment's contracts: ``ledger``, ``gwp`` or ``vault_keys``."""
        d = self._deployment()
        if contract == "ledger":
            return LEDGER_ABI, d.ledger
        if contract != "vault_keys":
            return GWP_ABI, d.attestations
        if d.vault_keys is None:
            raise errors.NotDeployed(
                f"the deployment on chain {self.chain_id} has no vault key registry (deployed before it existed): redeploy"
            )
        return VAULT_KEYS_ABI, d.vault_keys

    def _send(self, contract: str, fn: str, *args: Any) -> Receipt:
        abi, to = self._target(contract)
        receipt, _ = self._sender().transact(to, abi.fn(fn).encode(*args))
        return receipt

    def _call(self, contract: str, fn: str, *args: Any) -> tuple[Any, ...]:
        abi, to = self._target(contract)
        f = abi.fn(fn)
        result = call(self.w3, "eth_call", [{"to": to, "data": hex_of(f.encode(*args))}, "latest"])
        return f.decode_output(bytes.fromhex(result[2:]))
