"""Type stub of the public surface, and the one list of it: ``ledger/__init__.py`` reads these imports
to load each name on first use (the layout of scientific-python SPEC 1's lazy loading).
"""

from ledger import errors as errors
from ledger.attest.eip712 import (
    INFORMATIONAL_PROBLEMS as INFORMATIONAL_PROBLEMS,
    attestation_digest as attestation_digest,
    sign_attestation as sign_attestation,
    to_contract_args as to_contract_args,
    verify_attestation as verify_attestation,
)
from ledger.attest.files import (
    load_attestation as load_attestation,
    save_attestation as save_attestation,
)
from ledger.attest.inventory import (
    ProcessInventory as ProcessInventory,
    SignedInventory as SignedInventory,
    inventory_digest as inventory_digest,
    load_inventory as load_inventory,
    save_inventory as save_inventory,
    sign_inventory as sign_inventory,
)
from ledger.attest.records import (
    AttestationCheck as AttestationCheck,
    GwpAttestation as GwpAttestation,
    SignedAttestation as SignedAttestation,
    parse_stage as parse_stage,
)
from ledger.auditor.report import (
    STRICT_LEVELS as STRICT_LEVELS,
    AuditReport as AuditReport,
)
from ledger.auditor.run import (
    audit as audit,
)
from ledger.chain.abi import (
    artifact as artifact,
    contract_abi as contract_abi,
)
from ledger.chain.node import (
    BULK_ARGS as BULK_NODE_ARGS,
    ENGINES as NODE_ENGINES,
    NodeInfo as NodeInfo,
    default_data_dir as default_data_dir,
    find_anvil as find_anvil,
    free_port as free_port,
    start as start_node,
    status as node_status,
    stop as stop_node,
)
from ledger.client.bulk import (
    BulkResult as BulkResult,
)
from ledger.client.identity import (
    authority_key_of as authority_key_of,
    checked_vault_key as checked_vault_key,
    wraps_for as wraps_for,
)
from ledger.client.inputs import (
    Use as Use,
    commitment as commitment,
)
from ledger.client.ledger import (
    Ledger as Ledger,
)
from ledger.client.light import (
    LedgerReader as LedgerReader,
)
from ledger.domain.composition import (
    ELEMENTS as ELEMENTS,
    Composition as Composition,
)
from ledger.domain.disclosure import (
    Disclosure as Disclosure,
    commit as commit,
    disclose as disclose,
    verify_disclosure as verify_disclosure,
)
from ledger.domain.enums import (
    PASSPORT_MOVES as PASSPORT_MOVES,
    LotKind as LotKind,
    LotState as LotState,
    OpKind as OpKind,
    PassportStatus as PassportStatus,
    ProcessRoute as ProcessRoute,
    Role as Role,
)
from ledger.domain.grade import (
    Grade as Grade,
    derive_grade as derive_grade,
)
from ledger.domain.hashing import (
    checksum_address as checksum_address,
    keccak as keccak,
    keccak_backend as keccak_backend,
)
from ledger.domain.identity import (
    EVIDENCE_KINDS as EVIDENCE_KINDS,
    commit_evidence as commit_evidence,
    commit_soh as commit_soh,
    evidence_subjects as evidence_subjects,
    evidence_vault_id as evidence_vault_id,
    lot_record_id as lot_record_id,
    open_soh as open_soh,
    party_record_id as party_record_id,
    soh_vault_id as soh_vault_id,
    unit_record_id as unit_record_id,
    verify_evidence as verify_evidence,
    verify_origin as verify_origin,
    verify_party as verify_party,
    verify_soh as verify_soh,
    verify_unit as verify_unit,
)
from ledger.domain.ids import (
    hex_of as hex_of,
    id_bytes as id_bytes,
    label_of as label_of,
    origin_code as origin_code,
    origin_country as origin_country,
    to_bytes32 as to_bytes32,
)
from ledger.domain.models import (
    Deployment as Deployment,
    Lot as Lot,
    LotSpec as LotSpec,
    Offer as Offer,
    Participant as Participant,
    Receipt as Receipt,
    SohRecord as SohRecord,
    Unit as Unit,
    UnitSpec as UnitSpec,
)
from ledger.domain.problems import first_problem as first_problem
from ledger.domain.soh import (
    SohValues as SohValues,
    soh_problems as soh_problems,
)
from ledger.domain.stages import LifeCycleStage as LifeCycleStage
from ledger.domain.times import iso_time as iso_time
from ledger.errors import (
    AccountExists as AccountExists,
    AccountNotFound as AccountNotFound,
    AttestationError as AttestationError,
    AuditFailed as AuditFailed,
    ChainError as ChainError,
    ConfigError as ConfigError,
    ConnectionFailed as ConnectionFailed,
    ContractRevert as ContractRevert,
    DeploymentMismatch as DeploymentMismatch,
    DisclosureError as DisclosureError,
    GradeError as GradeError,
    IndexCorrupt as IndexCorrupt,
    IndexReadOnly as IndexReadOnly,
    IndexUnavailable as IndexUnavailable,
    InvalidInput as InvalidInput,
    KeystoreError as KeystoreError,
    LedgerError as LedgerError,
    NodeError as NodeError,
    NotDeployed as NotDeployed,
    SignatureError as SignatureError,
    TransactionFailed as TransactionFailed,
    UnknownLot as UnknownLot,
    WeakKeyDerivation as WeakKeyDerivation,
    WrongChain as WrongChain,
    WrongPassword as WrongPassword,
)
from ledger.exports.batterypass import (
    VISIBLE_POINTS as VISIBLE_POINTS,
)
from ledger.exports.idta import idta_passport as idta_passport
from ledger.exports.passport import (
    battery_passport as battery_passport,
    passport_qr as passport_qr,
)
from ledger.exports.passport_page import (
    passport_html as passport_html,
)
from ledger.exports.pcf import (
    pact_footprint as pact_footprint,
    pact_footprint_v3 as pact_footprint_v3,
)
from ledger.figures.footprint import (
    all_footprints as all_footprints,
    claim_assurance as claim_assurance,
    cut_off as cut_off,
    footprint as footprint,
)
from ledger.figures.inventory import (
    ProcessInventoryReport as ProcessInventoryReport,
    lot_grade as lot_grade,
    process_inventory as process_inventory,
)
from ledger.figures.lifetime import (
    lifetime_carbon as lifetime_carbon,
)
from ledger.figures.origin import (
    origin_mix as origin_mix,
)
from ledger.figures.recovery import (
    OperationYields as OperationYields,
    operation_yields as operation_yields,
    recycling_report as recycling_report,
)
from ledger.figures.recycled import (
    recycled_content as recycled_content,
)
from ledger.figures.triage import (
    TriageThresholds as TriageThresholds,
    triage as triage,
)
from ledger.index.queries import (
    LotRow as LotRow,
)
from ledger.index.store import (
    EventIndex as EventIndex,
)
from ledger.index.sync import (
    SyncProgress as SyncProgress,
    SyncResult as SyncResult,
)
from ledger.local.deployments import (
    deployment_file as deployment_file,
    load_deployment as load_deployment,
)
from ledger.local.keys import (
    DEFAULT_SCRYPT_N as DEFAULT_SCRYPT_N,
    DEV_SCRYPT_N as DEV_SCRYPT_N,
    INSECURE_FAST_KEYS_ENV as INSECURE_FAST_KEYS_ENV,
    MIN_SCRYPT_N as MIN_SCRYPT_N,
    check_account_name as check_account_name,
    create_account as create_account,
    default_keystore_dir as default_keystore_dir,
    import_private_key as import_private_key,
    list_accounts as list_accounts,
    load_account as load_account,
    read_password as read_password,
)
from ledger.local.vault import (
    Vault as Vault,
    local_vault as local_vault,
)
from ledger.queries.registry import (
    attestation_list as attestation_list,
    lot_history as lot_history,
    participants as participants,
    pending_offers as pending_offers,
    unit_parents as unit_parents,
)
from ledger.queries.trace import (
    Trace as Trace,
    trace as trace,
)
from ledger.replay.state import (
    LedgerState as LedgerState,
)
from ledger.service.app import (
    ServiceConfig as ServiceConfig,
    create_app as create_app,
    serve as serve,
)

__version__: str

__all__ = [
    "idta_passport",
    "PASSPORT_MOVES",
    "first_problem",
    "all_footprints",
    "AccountExists",
    "AccountNotFound",
    "AttestationCheck",
    "AttestationError",
    "AuditFailed",
    "AuditReport",
    "BULK_NODE_ARGS",
    "BulkResult",
    "ChainError",
    "Composition",
    "ConfigError",
    "ConnectionFailed",
    "ContractRevert",
    "DEFAULT_SCRYPT_N",
    "DEV_SCRYPT_N",
    "Deployment",
    "DeploymentMismatch",
    "Disclosure",
    "DisclosureError",
    "ELEMENTS",
    "EventIndex",
    "GwpAttestation",
    "INFORMATIONAL_PROBLEMS",
    "INSECURE_FAST_KEYS_ENV",
    "IndexCorrupt",
    "IndexReadOnly",
    "IndexUnavailable",
    "InvalidInput",
    "KeystoreError",
    "Ledger",
    "LedgerError",
    "LedgerReader",
    "LedgerState",
    "LifeCycleStage",
    "Lot",
    "LotKind",
    "LotRow",
    "LotSpec",
    "LotState",
    "MIN_SCRYPT_N",
    "NODE_ENGINES",
    "NodeError",
    "NodeInfo",
    "NotDeployed",
    "Offer",
    "OpKind",
    "Participant",
    "PassportStatus",
    "Receipt",
    "Role",
    "STRICT_LEVELS",
    "ServiceConfig",
    "SignatureError",
    "SignedAttestation",
    "SohRecord",
    "SyncProgress",
    "SyncResult",
    "Trace",
    "TransactionFailed",
    "UnknownLot",
    "TriageThresholds",
    "Unit",
    "UnitSpec",
    "Use",
    "Vault",
    "WeakKeyDerivation",
    "WrongChain",
    "WrongPassword",
    "__version__",
    "artifact",
    "attestation_digest",
    "attestation_list",
    "audit",
    "battery_passport",
    "check_account_name",
    "checksum_address",
    "claim_assurance",
    "commit",
    "commit_evidence",
    "commitment",
    "contract_abi",
    "create_account",
    "create_app",
    "cut_off",
    "default_data_dir",
    "default_keystore_dir",
    "disclose",
    "deployment_file",
    "errors",
    "find_anvil",
    "footprint",
    "free_port",
    "hex_of",
    "id_bytes",
    "iso_time",
    "import_private_key",
    "keccak",
    "keccak_backend",
    "label_of",
    "lifetime_carbon",
    "list_accounts",
    "load_account",
    "load_attestation",
    "load_deployment",
    "lot_history",
    "node_status",
    "origin_code",
    "origin_country",
    "origin_mix",
    "pact_footprint",
    "pact_footprint_v3",
    "parse_stage",
    "participants",
    "passport_html",
    "passport_qr",
    "pending_offers",
    "read_password",
    "recycled_content",
    "recycling_report",
    "operation_yields",
    "OperationYields",
    "save_attestation",
    "serve",
    "sign_attestation",
    "start_node",
    "stop_node",
    "to_bytes32",
    "to_contract_args",
    "trace",
    "triage",
    "unit_parents",
    "verify_attestation",
    "verify_disclosure",
    "verify_evidence",
    "commit_soh",
    "verify_soh",
    "open_soh",
    "soh_vault_id",
    "SohValues",
    "soh_problems",
    "evidence_vault_id",
    "evidence_subjects",
    "EVIDENCE_KINDS",
    "ProcessInventory",
    "SignedInventory",
    "inventory_digest",
    "load_inventory",
    "save_inventory",
    "sign_inventory",
    "ProcessRoute",
    "Grade",
    "derive_grade",
    "GradeError",
    "ProcessInventoryReport",
    "lot_grade",
    "process_inventory",
    "VISIBLE_POINTS",
    "local_vault",
    "verify_unit",
    "verify_party",
    "verify_origin",
    "unit_record_id",
    "party_record_id",
    "lot_record_id",
    "wraps_for",
    "authority_key_of",
    "checked_vault_key",
]
