"""`rinne gwp`: signed GWP (kg CO2e) attestations."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import ledger as rinne

from . import _specs
from ._core import (
    CliError,
    OrderedGroup,
    Session,
    _color,
    _store,
    account_options,
    data_dir_option,
    json_option,
    jsonable,
    note,
    open_index,
    pass_session,
    read_command,
    trust_index_option,
    user_input,
    verbose_option,
    write_command,
)
from ._units import (
    format_mass,
    parse_duration,
    parse_emissions,
    parse_energy,
    parse_percent_bp,
    parse_time,
    parse_volume,
)

if TYPE_CHECKING:
    from ledger import Deployment, LifeCycleStage, SignedAttestation, SignedInventory

#: Stage words of the command line (the library's one list: loading it costs no chain library).
STAGES = {s.word: s for s in rinne.LifeCycleStage}


def _stage_member(word: str) -> LifeCycleStage:
    return STAGES[word]


def stage_name(stage: int) -> str:
    """The command-line word of a life-cycle stage."""
    return rinne.LifeCycleStage(stage).word


_UID = re.compile(r"^0x[0-9a-fA-F]{64}$")
#: What each problem code of an offline check means, for the one-line messages.
PROBLEMS = {
    "wrong-chain": "signed for another chain",
    "wrong-contract": "signed for another deployment",
    "bad-signature": "the signature is malformed or does not verify",
    "high-s": "malleable (high-s) signature",
    "signer-mismatch": "the signature is not by the named signer (or a field was altered)",
    "contract-signer": "a contract signer needs a chain to check",
    "expired": "past its valid-until",
    "not-yet-valid": "its issued-at lies in the future",
    "deadline-passed": "its relay deadline has passed",
    "not-on-chain": "not recorded on this chain",
    "revoked": "revoked on-chain",
    "signer-not-accredited": "the signer does not hold GWP_VERIFIER now",
    "expired-deadline": "not recorded, and its relay deadline has passed: it can no longer be recorded",
    "nonce-used": "not recorded, and its signer spent that nonce on another attestation: it can never be recorded",
}


@click.group(cls=OrderedGroup)
def gwp() -> None:
    """Sign, relay, verify and revoke GWP attestations.

    An accredited GWP verifier signs one process step's own emissions for a
    lot (gate-to-gate, kg CO2e) as an EIP-712 message bound to the chain and
    the attestation contract, with a nonce and a relay deadline. Signing is
    offline and writes a file; anyone may submit the file on-chain; anyone can
    verify it with or without a chain. The signer or an AUDITOR can revoke it:
    the record stays, marked revoked.

    \b
    Stages: raw-material-acquisition, main-production, distribution, end-of-life.
    Emissions take units: 1250kg, 3.2t, 800kgCO2e (a bare integer is grams).

    \b
    Examples:
      rinne gwp sign CAM-001 --emissions 18.4t --stage main-production --account verifier -o cam-001.gwp.json
      rinne gwp submit cam-001.gwp.json --account cam-maker
      rinne gwp verify cam-001.gwp.json
      rinne gwp list --lot CAM-001
      rinne gwp inventory sign NISO4-01 --energy 1.2MWh --renewable 35% --water-withdrawn 4.5m3 \\
          --water-consumed 1.2m3 --route hydrometallurgy --account verifier -o niso4.inv.json
    """


def _stage(ctx: click.Context, param: click.Parameter, value: str | None) -> LifeCycleStage | None:
    if value is None:
        return None
    key = value.strip().lower().replace("_", "-").replace(" ", "-")
    if key in STAGES:
        return _stage_member(key)
    try:
        return rinne.parse_stage(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use one of {', '.join(STAGES)}", ctx=ctx, param=param) from None


def _recorded_deployments(home: Path) -> list[Deployment]:
    folder = home / "deployments"
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.stem.isdigit():
            d = rinne.load_deployment(home, int(path.stem))
            if d is not None:
                found.append(d)
    return found


def _domain(session: Session, contract: str | None) -> tuple[int, str]:
    if contract:
        if session.chain_id is None:
            raise click.UsageError("--contract needs --chain-id too: the signature binds both")
        return session.chain_id, session.resolve_address(contract, "--contract")
    recorded = _recorded_deployments(session.home)
    if session.chain_id is not None:
        recorded = [d for d in recorded if d.chain_id == session.chain_id]
    if not recorded:
        where = f"chain {session.chain_id}" if session.chain_id else "any chain"
        raise click.UsageError(
            f"no deployment recorded for {where} in {session.home}: pass --chain-id N --contract ADDRESS of GwpAttestations"
        )
    if len(recorded) > 1:
        chains = ", ".join(str(d.chain_id) for d in recorded)
        raise click.UsageError(f"deployments are recorded for chains {chains}: pick one with --chain-id")
    return recorded[0].chain_id, recorded[0].attestations


def _signed_json(signed: SignedAttestation) -> dict[str, Any]:
    a = signed.attestation
    return {
        "uid": signed.uid,
        "lot_id": a.lot_id,
        "label": rinne.label_of(a.lot_id),
        "signer": signed.signer,
        "emissions_g": a.emissions_grams,
        "stage": stage_name(a.stage),
        "methodology": a.methodology_label or a.methodology,
        "evidence": a.evidence,
        "issued_at": rinne.iso_time(a.issued_at),
        "valid_until": rinne.iso_time(a.valid_until),
        "nonce": str(a.nonce),
        "deadline": rinne.iso_time(a.deadline),
        "chain_id": signed.chain_id,
        "contract": signed.contract,
    }


def _signing_options(what: str, prefix: str) -> Callable[[Any], Any]:
    """The options every offline-signed message shares: its validity, relay deadline, nonce, domain and file."""
    options = [
        click.option(
            "--issued-at", metavar="TIME", help="Start of validity: 2027-01-31, 2027-01-31T12:00:00Z or @unix.  [default: now]"
        ),
        click.option(
            "--valid-for", default="365d", show_default=True, metavar="DURATION", help="Validity from issued-at: 365d, 2y, 12h."
        ),
        click.option("--valid-until", metavar="TIME", help="End of validity (instead of --valid-for)."),
        click.option(
            "--deadline",
            "deadline_in",
            default="30d",
            show_default=True,
            metavar="DURATION",
            help="How long the file may be relayed on-chain, from now.",
        ),
        click.option(
            "--nonce",
            type=click.IntRange(0, 2**256 - 1),
            help="Nonce (each used once per signer, shared by attestations and inventories).  [default: random]",
        ),
        click.option(
            "--contract", metavar="ADDRESS", help="GwpAttestations contract (with --chain-id).  [default: the recorded deployment]"
        ),
        click.option(
            "--chain-id",
            type=click.IntRange(min=1),
            metavar="ID",
            expose_value=False,
            callback=_store("chain_id"),
            help=f"Chain the {what} is for.  [default: the only recorded deployment]",
        ),
        click.option(
            "--out",
            "-o",
            "out",
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"File to write.  [default: {prefix}-<lot>-<uid>.json]",
        ),
        click.option("--force", is_flag=True, help="Overwrite the output file."),
        data_dir_option,
        account_options,
        json_option,
        verbose_option,
    ]

    def decorate(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def _validity(issued_at: str | None, valid_for: str, valid_until: str | None, deadline_in: str) -> tuple[int, int, int]:
    """A signed message's issuedAt, validUntil and relay deadline from the shared signing options (now as default)."""
    now = int(time.time())
    issued = parse_time(issued_at) if issued_at else now
    until = parse_time(valid_until) if valid_until else issued + parse_duration(valid_for)
    return issued, until, now + parse_duration(deadline_in)


def _output_path(out: Path | None, prefix: str, lot_id: str, uid: str, force: bool) -> Path:
    """Where a signed message file goes: --out, else PREFIX-<lot>-<uid>.json; an existing file only with --force."""
    path = out or Path(f"{prefix}-{re.sub(r'[^A-Za-z0-9_.-]', '_', rinne.label_of(lot_id))[:40]}-{uid[2:10]}.json")
    if path.exists() and not force:
        raise click.UsageError(f"{path} exists: choose another --out or pass --force")
    return path


@gwp.command()
@click.argument("lot_id")
@click.option("--emissions", required=True, metavar="MASS", help="The step's own emissions, e.g. 18.4t or 1250kgCO2e.")
@click.option("--stage", required=True, callback=_stage, metavar="STAGE", help=f"Life-cycle stage: {', '.join(STAGES)}.")
@click.option(
    "--methodology", default="ISO14067:2018", show_default=True, help="Methodology id (up to 32 ASCII characters) or 0x hash."
)
@click.option("--evidence", metavar="FILE|HASH", help="LCA report: a file (hashed with keccak256) or its 0x hash.")
@_signing_options("attestation", "gwp")
@pass_session
def sign(
    session: Session,
    lot_id: str,
    emissions: str,
    stage: LifeCycleStage,
    methodology: str,
    evidence: str | None,
    issued_at: str | None,
    valid_for: str,
    valid_until: str | None,
    deadline_in: str,
    nonce: int | None,
    contract: str | None,
    out: Path | None,
    force: bool,
) -> None:
    """Sign an attestation offline and write it to a file (GWP_VERIFIER).

    No chain is contacted: the chain id and contract come from the recorded
    deployment (or --chain-id and --contract). Hand the file to anyone to submit.

    \b
    Example:
      rinne gwp sign CAM-001 --emissions 18.4t --stage main-production \\
          --evidence lca-report.pdf --valid-for 1y --account verifier -o cam-001.gwp.json
    """
    with user_input():
        issued, until, deadline = _validity(issued_at, valid_for, valid_until, deadline_in)
        ev_word, opened = _committed_evidence("attestation", lot_id, evidence)
        attestation = rinne.GwpAttestation(
            lot_id=_specs.bytes32(lot_id, "lot id"),
            emissions_grams=parse_emissions(emissions),
            stage=stage,
            methodology=methodology,
            evidence=ev_word,
            issued_at=issued,
            valid_until=until,
            nonce=secrets.randbits(256) if nonce is None else nonce,
            deadline=deadline,
        )
    chain_id, gwp_contract = _domain(session, contract)
    signed = rinne.sign_attestation(attestation, session.unlock(), chain_id, gwp_contract)
    path = _output_path(out, "gwp", attestation.lot_id, signed.uid, force)
    _keep_opening(session, opened, gwp_contract)
    rinne.save_attestation(signed, path)
    session.emit(
        {**_signed_json(signed), "file": str(path)},
        f"signed {format_mass(attestation.emissions_grams)} CO2e for {rinne.label_of(attestation.lot_id)}: {path} (uid {signed.uid})",
    )


def _committed_evidence(kind: str, lot_id: str, text: str | None) -> tuple[str, Any]:
    """The evidence word of a signed message: the report's hash committed salted, bound to the lot (or zero)."""
    if not text:
        return _specs.ZERO32, None
    return rinne.commit_evidence(kind, _specs.bytes32(lot_id, "lot id"), _specs.evidence(text))


def _keep_opening(session: Session, opened: Any, gwp_contract: str) -> None:
    # Before the signed file is written: a word no one can open must not leave this machine. Wrapped also to the
    # authority tier's key of the deployment the message is bound to, when its record names one (Annex XIII point 3).
    if opened is not None:
        vault = session.vault()
        assert vault is not None  # made on demand
        bound = [d for d in _recorded_deployments(session.home) if d.attestations.lower() == gwp_contract.lower()]
        vault.put_openings(opened, rinne.wraps_for(opened, [], rinne.authority_key_of(bound[0] if bound else None)))


def _file_uid(path: Path) -> str:
    """The uid of a signed attestation or process inventory file (each loader checks its own kind)."""
    try:
        kind = json.loads(path.read_bytes()[: 64 * 1024]).get("type")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind == "rinne.process-inventory/v1":
        return rinne.load_inventory(path).uid
    return rinne.load_attestation(path).uid


def _load(files: tuple[Path, ...]) -> list[SignedAttestation]:
    return [rinne.load_attestation(f) for f in files]


@gwp.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE...")
@write_command
@pass_session
def submit(session: Session, files: tuple[Path, ...]) -> None:
    """Record signed attestation files on-chain (any registered account may relay).

    Every file is checked offline first; nothing is sent unless all pass.
    Files already on-chain are skipped, so a retried command is safe.

    \b
    Example:
      rinne gwp submit cam-001.gwp.json --account cam-maker
    """
    loaded = _load(files)
    ledger = session.ledger()
    d = ledger.check_deployment()
    now = ledger.chain_time()  # the chain's clock decides validity on-chain, not this machine's
    for f, signed in zip(files, loaded):
        check = rinne.verify_attestation(signed, now=now, chain_id=ledger.chain_id, contract=d.attestations)
        if check.problems:
            raise CliError(f"{f}: " + "; ".join(PROBLEMS.get(p, p) for p in check.problems) + ": nothing was sent")
    todo = [(f, s) for f, s in zip(files, loaded) if ledger.attestation(s.uid)["signer"] is None]
    results = [{"file": str(f), "uid": s.uid, "lot_id": s.attestation.lot_id, "recorded": False} for f, s in zip(files, loaded)]
    if not todo:
        session.emit(results, [f"{r['file']}: on-chain already (uid {r['uid']})" for r in results])
        return
    signer = session.signer()
    session.confirm(f"Submit {len(todo)} attestation(s) {session.who()}")
    lines = []
    for f, s in todo:
        with session.busy(f"submitting {f}"):
            signer.submit_attestation(s)
        record = next(r for r in results if r["uid"] == s.uid)
        record["recorded"] = True
        lines.append(
            f"recorded {f}: {format_mass(s.attestation.emissions_grams)} CO2e for {rinne.label_of(s.attestation.lot_id)} (uid {s.uid})"
        )
    lines += [f"{r['file']}: on-chain already (uid {r['uid']})" for r in results if not r["recorded"]]
    session.emit(results, lines)


#: What an offline check of a file cannot know (issue 14: "valid" for a never-accredited signer misled).
_OFFLINE_BLIND = ("signer accreditation", "revocation", "nonce spent", "recorded on-chain")


@gwp.command()
@click.argument("target", metavar="FILE|UID")
@click.option(
    "--on-chain", is_flag=True, help="For a file: also check against the chain (not revoked, signer accredited, contract signers)."
)
@read_command
@pass_session
def verify(session: Session, target: str, on_chain: bool) -> None:
    """Check an attestation; exit 1 when it does not hold.

    A FILE is checked offline, with no chain: the signature recovers to the
    named signer over exactly these fields, for the recorded deployment, within
    its validity period; the output lists what offline cannot know (the
    signer's accreditation, revocation, the nonce). With --on-chain the chain is asked too: not revoked,
    signer accredited now (or a self-declaration recorded), contract signers
    via ERC-1271; whether it is recorded is reported. A UID is looked up on the
    chain: recorded, not revoked, within validity, signer accredited.

    \b
    Examples:
      rinne gwp verify cam-001.gwp.json
      rinne gwp verify cam-001.gwp.json --on-chain --json
      rinne gwp verify 0x5f1c...e2 --rpc-url $ETH_RPC_URL
    """
    problems: list[str] = []
    info: dict[str, Any] = {}
    uid: str
    if Path(target).is_file():
        signed = rinne.load_attestation(target)
        uid = signed.uid
        info.update(_signed_json(signed))
        if on_chain:
            result = session.ledger().verify_attestation(signed)
            problems += result["problems"]
            info.update({k: result[k] for k in ("recorded", "revoked", "self_declared", "accredited")})
        else:
            recorded = rinne.load_deployment(session.home, signed.chain_id)
            contract = recorded.attestations if recorded else None
            if contract is None:
                note(f"no deployment of chain {signed.chain_id} is recorded here: the contract address was not compared")
            check = rinne.verify_attestation(signed, chain_id=session.chain_id, contract=contract)
            problems += check.problems
            info["checked"] = ["signature", "fields", "chain id"] + (["contract"] if contract else []) + ["validity period"]
            info["not_checked"] = list(_OFFLINE_BLIND)
    elif _UID.match(target):
        uid = target.lower()
        ledger = session.ledger()
        record = ledger.attestation(uid)
        if record["signer"] is None:
            problems.append("not-on-chain")
        else:
            accredited = ledger.has_role(record["signer"], rinne.Role.GWP_VERIFIER)
            if record["revoked"]:
                problems.append("revoked")
            elif not record["valid"]:
                problems.append("expired")
            if not accredited and not record["self_declared"]:
                problems.append("signer-not-accredited")
            info.update(
                lot_id=record["lot_id"],
                label=rinne.label_of(record["lot_id"]),
                signer=record["signer"],
                emissions_g=record["emissions_grams"],
                stage=stage_name(record["stage"]),
                issued_at=rinne.iso_time(record["issued_at"]),
                valid_until=rinne.iso_time(record["valid_until"]),
                recorded=True,
                revoked=record["revoked"],
                self_declared=record["self_declared"],
                accredited=accredited,
            )
    else:
        raise click.BadParameter(f"{target!r} is neither a file nor a 0x-prefixed 32-byte uid", param_hint="FILE|UID")
    ok = all(p in rinne.INFORMATIONAL_PROBLEMS for p in problems)
    data = {"ok": ok, "problems": problems, "uid": uid, **{k: v for k, v in info.items() if k != "uid"}}
    if not session.json:
        head = "valid" if ok else "NOT VALID"
        click.secho(f"{head}: {uid}", fg="green" if ok else "red", color=_color())
        if info.get("lot_id"):
            click.echo(f"lot        {info.get('label')}")
            click.echo(f"emissions  {format_mass(info['emissions_g'])} CO2e ({info.get('stage')})")
            click.echo(f"signer     {info.get('signer')}" + (" (self-declared)" if info.get("self_declared") else ""))
            click.echo(f"valid      {info.get('issued_at') or '-'} to {info.get('valid_until') or '-'}")
            if "recorded" in info:
                click.echo(
                    f"on-chain   {'recorded' if info['recorded'] else 'not recorded'}" + (", revoked" if info.get("revoked") else "")
                )
        for p in problems:
            click.echo(f"problem    {p}: {PROBLEMS.get(p, p)}")
        if "not_checked" in info:
            # Offline, a valid signature says nothing about who the signer is on the ledger.
            click.echo(f"checked    {', '.join(info['checked'])} (offline)")
            click.echo(f"unchecked  {', '.join(info['not_checked'])}: only the chain knows (--on-chain)")
    else:
        click.echo(json.dumps(jsonable(data), indent=2))
    if not ok:
        click.get_current_context().exit(1)


@gwp.command()
@click.argument("target", metavar="UID|FILE")
@click.option("--reason", default="", help="Why (stored as a salted commitment; the text in your vault).")
@write_command
@pass_session
def revoke(session: Session, target: str, reason: str) -> None:
    """Revoke an attestation or a process inventory (its signer or an AUDITOR); the record stays.

    \b
    Example:
      rinne gwp revoke cam-001.gwp.json --reason "meter calibration error" --account verifier
    """
    if Path(target).is_file():
        uid = _file_uid(Path(target))
    elif _UID.match(target):
        uid = target.lower()
    else:
        raise click.BadParameter(f"{target!r} is neither an attestation file nor a 0x-prefixed 32-byte uid", param_hint="UID|FILE")
    ledger = session.signer()
    session.confirm(f"Revoke attestation {uid} {session.who()}")
    receipt = ledger.revoke_attestation(uid, reason)
    session.done(receipt, f"revoked {uid}", uid=uid)


@gwp.command("list")
@click.option("--lot", "lot_id", help="Only attestations of this lot.")
@click.option("--signer", metavar="ADDRESS|ACCOUNT", help="Only attestations by this signer.")
@trust_index_option
@read_command
@pass_session
def list_(session: Session, lot_id: str | None, signer: str | None, trust_index: bool) -> None:
    """List attestations recorded on-chain, oldest first, from the event index.

    The index is synced with the chain and checked against its ledger heads
    first. VALID is the contract's judgement (recorded, not revoked, not past
    its valid-until), at the later of the index's last block and this
    machine's clock.

    \b
    Example:
      rinne gwp list --lot CAM-001 --json
    """
    with user_input():
        lot_word = _specs.bytes32(lot_id, "lot id") if lot_id else None
    signer_address = session.resolve_address(signer, "--signer") if signer else None
    with open_index(session, trust=trust_index) as index:
        # The later of the two: an attestation the clock has seen expire is not shown valid, even before a block says so.
        now = max(index.chain_timestamp, int(time.time()))
        found = rinne.attestation_list(index, lot_id=lot_word, signer=signer_address, at=now)
    out = [
        {
            "uid": e["uid"],
            "lot_id": e["lot_id"],
            "label": rinne.label_of(e["lot_id"]),
            "signer": e["signer"],
            "emissions_g": e["emissions_grams"],
            "stage": stage_name(e["stage"]),
            "methodology": rinne.label_of(e["methodology"]),
            "issued_at": e["issued_at"],
            "valid_until": e["valid_until"],
            "self_declared": e["self_declared"],
            "revoked": e["revoked"],
            "revoked_by": e["revoked_by"],
            "valid": e["valid"],
            "block": e["block"],
            "tx_hash": e["tx_hash"],
        }
        for e in found
    ]
    lines = [
        f"{o['uid'][:18]}…  {o['label']:<16} {format_mass(o['emissions_g']):>10} CO2e  {o['stage']:<22} {o['signer']}"
        + ("  revoked" if o["revoked"] else "")
        + ("  self-declared" if o["self_declared"] else "")
        for o in out
    ]
    session.emit(out, lines or ["no attestations"])


# ------------------------------------------------------------------------------ process inventory

#: Route words of the command line.
ROUTES = [r.word for r in rinne.ProcessRoute]


@gwp.group(cls=OrderedGroup)
def inventory() -> None:
    """Sign and relay process inventories: energy, renewable share, water, route.

    An inventory is a step's own energy used (with its renewable share), water
    withdrawn and consumed, process route and, where the material cannot say
    it, the grade its assay found. It is signed and relayed like a GWP
    attestation: the same EIP-712 domain, nonces, deadline and signer rules (an
    accredited verifier, or the lot's active holder as a self-declaration).
    `rinne verify` rolls the inventories up cradle-to-gate.

    \b
    Example:
      rinne gwp inventory sign NISO4-01 --energy 1.2MWh --renewable 35% \\
          --water-withdrawn 4.5m3 --water-consumed 1.2m3 --route hydrometallurgy --account verifier
      rinne gwp inventory submit inv-NISO4-01-*.json --account refiner
    """


def _route(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    try:
        return rinne.ProcessRoute.parse(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use one of {', '.join(ROUTES)}", ctx=ctx, param=param) from None


def _inventory_json(signed: SignedInventory) -> dict[str, Any]:
    p = signed.inventory
    return {
        "uid": signed.uid,
        "lot_id": p.lot_id,
        "label": rinne.label_of(p.lot_id),
        "signer": signed.signer,
        "energy_wh": p.energy_wh,
        "renewable_bps": p.renewable_bps,
        "water_withdrawn_litres": p.water_withdrawn_litres,
        "water_consumed_litres": p.water_consumed_litres,
        "route": rinne.ProcessRoute(p.route).word,
        "grade": p.grade_label,
        "evidence": p.evidence,
        "issued_at": rinne.iso_time(p.issued_at),
        "valid_until": rinne.iso_time(p.valid_until),
        "nonce": str(p.nonce),
        "deadline": rinne.iso_time(p.deadline),
        "chain_id": signed.chain_id,
        "contract": signed.contract,
    }


def _inventory_line(p: Any) -> str:
    return (
        f"{p.energy_wh / 1000:,.1f} kWh ({p.renewable_bps / 100:g}% renewable), water {p.water_withdrawn_litres / 1000:,.3f} m³ "
        f"withdrawn / {p.water_consumed_litres / 1000:,.3f} m³ consumed"
    )


@inventory.command("sign")
@click.argument("lot_id")
@click.option("--energy", required=True, metavar="ENERGY", help="Energy the step used: 1.2MWh, 850kWh.")
@click.option("--renewable", default="0%", show_default=True, metavar="PERCENT", help="Renewable share of that energy: 35%.")
@click.option("--water-withdrawn", default="0", show_default=True, metavar="VOLUME", help="Water withdrawn: 4.5m3, 4500l.")
@click.option("--water-consumed", default="0", show_default=True, metavar="VOLUME", help="Water consumed (not returned).")
@click.option(
    "--route", default="unspecified", show_default=True, callback=_route, metavar="ROUTE", help=f"Process route: {', '.join(ROUTES)}."
)
@click.option("--grade", default="", metavar="GRADE", help="The grade the step's assay found (up to 32 ASCII characters).")
@click.option("--evidence", metavar="FILE|HASH", help="Inventory or assay report: a file (hashed with keccak256) or its 0x hash.")
@_signing_options("inventory", "inv")
@pass_session
def inventory_sign(
    session: Session,
    lot_id: str,
    energy: str,
    renewable: str,
    water_withdrawn: str,
    water_consumed: str,
    route: Any,
    grade: str,
    evidence: str | None,
    issued_at: str | None,
    valid_for: str,
    valid_until: str | None,
    deadline_in: str,
    nonce: int | None,
    contract: str | None,
    out: Path | None,
    force: bool,
) -> None:
    """Sign a process inventory offline and write it to a file (GWP_VERIFIER, or the lot's holder).

    No chain is contacted: the chain id and contract come from the recorded
    deployment (or --chain-id and --contract). Hand the file to anyone to submit.

    \b
    Example:
      rinne gwp inventory sign NISO4-01 --energy 1.2MWh --renewable 35% \\
          --water-withdrawn 4.5m3 --water-consumed 1200l --route hydrometallurgy \\
          --evidence inventory.pdf --account verifier -o niso4-01.inv.json
    """
    with user_input():
        issued, until, deadline = _validity(issued_at, valid_for, valid_until, deadline_in)
        ev_word, opened = _committed_evidence("inventory", lot_id, evidence)
        inv = rinne.ProcessInventory(
            lot_id=_specs.bytes32(lot_id, "lot id"),
            energy_wh=parse_energy(energy),
            renewable_bps=parse_percent_bp(renewable),
            water_withdrawn_litres=parse_volume(water_withdrawn),
            water_consumed_litres=parse_volume(water_consumed),
            route=route,
            grade=grade,
            evidence=ev_word,
            issued_at=issued,
            valid_until=until,
            nonce=secrets.randbits(256) if nonce is None else nonce,
            deadline=deadline,
        )
    chain_id, gwp_contract = _domain(session, contract)
    signed = rinne.sign_inventory(inv, session.unlock(), chain_id, gwp_contract)
    path = _output_path(out, "inv", inv.lot_id, signed.uid, force)
    _keep_opening(session, opened, gwp_contract)
    rinne.save_inventory(signed, path)
    session.emit(
        {**_inventory_json(signed), "file": str(path)},
        f"signed {_inventory_line(inv)} for {rinne.label_of(inv.lot_id)}: {path} (uid {signed.uid})",
    )


@inventory.command("submit")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE...")
@write_command
@pass_session
def inventory_submit(session: Session, files: tuple[Path, ...]) -> None:
    """Record signed process inventory files on-chain (any registered account may relay).

    Every file is checked offline first; nothing is sent unless all pass. A
    file whose signer already spent its nonce is skipped (recorded already, or
    never recordable): a retried command is safe.

    \b
    Example:
      rinne gwp inventory submit niso4-01.inv.json --account refiner
    """
    loaded = [rinne.load_inventory(f) for f in files]
    ledger = session.ledger()
    d = ledger.check_deployment()
    now = ledger.chain_time()
    for f, signed in zip(files, loaded):
        check = rinne.verify_attestation(signed, now=now, chain_id=ledger.chain_id, contract=d.attestations)
        if check.problems:
            raise CliError(f"{f}: " + "; ".join(PROBLEMS.get(p, p) for p in check.problems) + ": nothing was sent")
    todo = [(f, s) for f, s in zip(files, loaded) if not ledger.nonce_used(s.signer, s.inventory.nonce)]
    results = [{"file": str(f), "uid": s.uid, "lot_id": s.inventory.lot_id, "recorded": False} for f, s in zip(files, loaded)]
    skipped = [f"{r['file']}: nonce spent already (on-chain already, uid {r['uid']}, or superseded)" for r in results]
    if not todo:
        session.emit(results, skipped)
        return
    signer = session.signer()
    session.confirm(f"Submit {len(todo)} process inventory file(s) {session.who()}")
    lines = []
    for f, s in todo:
        with session.busy(f"submitting {f}"):
            signer.submit_inventory(s)
        record = next(r for r in results if r["uid"] == s.uid)
        record["recorded"] = True
        lines.append(f"recorded {f}: {_inventory_line(s.inventory)} for {rinne.label_of(s.inventory.lot_id)} (uid {s.uid})")
    lines += [line for line, r in zip(skipped, results) if not r["recorded"]]
    session.emit(results, lines)
