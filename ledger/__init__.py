"""Rinne: a traceability ledger for the EV battery material loop.

The public surface of the client library; modules starting with ``_`` are internal.
"""

from ledger import errors
from ledger._attest import (
    AttestationCheck,
    GwpAttestation,
    LifeCycleStage,
    SignedAttestation,
    attestation_digest,
    load_attestation,
    save_attestation,
    sign_attestation,
    verify_attestation,
)
from ledger._keys import (
    create_account,
    default_keystore_dir,
    import_private_key,
    list_accounts,
    load_account,
    read_password,
)
from ledger.client import BulkResult, Ledger, Use, commitment
from ledger.errors import (
    AccountExists,
    AccountNotFound,
    AttestationError,
    ChainError,
    ConfigError,
    ConnectionFailed,
    ContractRevert,
    InvalidInput,
    KeystoreError,
    LedgerError,
    NodeError,
    NotDeployed,
    SignatureError,
    TransactionFailed,
    WrongChain,
    WrongPassword,
)
from ledger.audit import AuditReport, audit
from ledger.index import EventIndex, LotRow, SyncResult
from ledger.passport import battery_passport, pact_footprint, pact_footprint_v3, passport_html, passport_qr
from ledger.provenance import (
    TriageThresholds,
    claim_assurance,
    footprint,
    lifetime_carbon,
    origin_mix,
    recycled_content,
    trace,
    triage,
)
from ledger.models import (
    ELEMENTS,
    Composition,
    Deployment,
    Lot,
    LotKind,
    LotSpec,
    LotState,
    Offer,
    OpKind,
    Participant,
    PassportStatus,
    Receipt,
    Role,
    SohRecord,
    Unit,
    UnitSpec,
    label_of,
    origin_code,
    origin_country,
    to_bytes32,
)

__version__ = "0.1.0"

__all__ = [
    "AuditReport", "EventIndex", "LotRow", "SyncResult", "TriageThresholds", "audit", "battery_passport", "claim_assurance", "footprint",
    "lifetime_carbon", "origin_mix", "pact_footprint", "pact_footprint_v3", "passport_html", "passport_qr", "recycled_content",
    "trace", "triage",
    "AttestationCheck", "GwpAttestation", "LifeCycleStage", "SignedAttestation", "attestation_digest",
    "load_attestation", "save_attestation", "sign_attestation", "verify_attestation", "create_account",
    "default_keystore_dir", "import_private_key", "list_accounts", "load_account", "read_password",
    "ELEMENTS", "AccountExists", "AccountNotFound", "AttestationError", "BulkResult", "ChainError", "Composition",
    "ConfigError", "ConnectionFailed", "ContractRevert", "Deployment", "InvalidInput", "KeystoreError", "Ledger",
    "LedgerError", "Lot", "LotKind", "LotSpec", "LotState", "NodeError", "NotDeployed", "Offer", "OpKind",
    "Participant", "PassportStatus", "Receipt", "Role", "SignatureError", "SohRecord", "TransactionFailed", "Unit",
    "UnitSpec", "Use", "WrongChain", "WrongPassword", "commitment", "errors", "label_of", "origin_code",
    "origin_country", "to_bytes32",
]
