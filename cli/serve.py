"""`rinne serve`: the passport service, the web pages a battery's QR code opens, over the event index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

import ledger as rinne

from ._core import CliError, Session, chain_options, note, open_index, pass_session, trust_index_option, verbose_option


def _declarations(pairs: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Read ``UNIT=FILE`` pairs into unit -> declarations (the JSON `rinne passport --declarations` reads)."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        unit, sep, file = pair.partition("=")
        if not sep or not unit or not file:
            raise click.BadParameter(
                f"{pair!r}: give UNIT=FILE, e.g. LF005=demo-output/LF005-declarations.json", param_hint="--declarations"
            )
        try:
            doc = json.loads(Path(file).read_text())
        except (OSError, ValueError) as e:
            raise CliError(f"cannot read declarations {file}: {str(e).splitlines()[0]}") from None
        if not isinstance(doc, dict):
            raise CliError(f"declarations {file} must be a JSON object")
        out[unit] = doc
    return out


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: only this machine).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--public-url",
    metavar="URL",
    help="Origin readers reach the service at (the Sign-In with Ethereum domain).  [default: http://HOST:PORT]",
)
@click.option(
    "--declarations",
    "declaration_pairs",
    metavar="UNIT=FILE",
    multiple=True,
    help="A unit's declarations (the JSON `rinne passport --declarations` reads); repeat for each unit.",
)
@click.option(
    "--sync-seconds",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="How often the index follows the chain.",
)
@click.option("--no-audit", is_flag=True, help="Do not re-run the audit after each new block (/audit then answers 503).")
@click.option(
    "--session-secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="RINNE_SESSION_SECRET_FILE",
    show_envvar=True,
    help="HMAC key of the sign-in cookies (32 bytes or more), shared by several services.  [default: a new one per start]",
)
@click.option(
    "--nonces-per-client",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Unused sign-in nonces one peer address may hold (0: no cap, behind a proxy that limits rates).",
)
@click.option(
    "--vault",
    "vault_home",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A data directory whose vault (and vault.key) the service reads: it finds units by their salted serials and"
    " lots by their salted sites, and shows each serial with its proof.  [default: this data directory's, if it has a key]",
)
@trust_index_option
@chain_options
@verbose_option
@pass_session
def serve(
    session: Session,
    host: str,
    port: int,
    public_url: str | None,
    declaration_pairs: tuple[str, ...],
    sync_seconds: float,
    no_audit: bool,
    session_secret_file: Path | None,
    nonces_per_client: int,
    vault_home: Path | None,
    trust_index: bool,
) -> None:
    """Serve the battery passports on the web, by Annex XIII access tier.

    /passport/ID is the page a passport's QR code opens (ID: the declared
    ISO/IEC 15459 identifier, a serial, a label or the 0x id), and the same data as
    Battery Pass, IDTA-02035 or PACT JSON (?format= or Accept). Lot, unit,
    provenance, search and audit pages beside it; the JSON API is described at
    /openapi.json. Readers get the public tier; a party signs in with Ethereum
    (EIP-4361) and reads the tier its registered roles grant (docs/service.md).

    The index is synced and checked first, then follows the chain every
    --sync-seconds; every page says up to which block it is current. Ctrl-C stops.

    \b
    Examples:
      rinne serve
      rinne serve --port 8080 --declarations LF005=demo-output/LF005-declarations.json
      rinne serve --host 0.0.0.0 --public-url https://passports.example.com
    """
    declarations = _declarations(declaration_pairs)
    secret = None
    if session_secret_file is not None:
        secret = session_secret_file.read_bytes().strip()
        if len(secret) < 32:
            raise CliError(f"the session secret in {session_secret_file} is {len(secret)} bytes: it needs 32 or more")
    url = (public_url or f"http://{host}:{port}").rstrip("/")
    if not url.startswith(("http://", "https://")) or "/" in url.split("://", 1)[1]:
        raise click.BadParameter(f"{url!r}: an origin, http(s)://host[:port] with no path", param_hint="--public-url")
    vault = session.vault(create=False, home=vault_home)
    if vault_home is not None and vault is None:
        raise CliError(f"{vault_home} has no vault key ({vault_home}/vault.key)")
    ledger = session.ledger()
    d = ledger.deployment
    config = rinne.ServiceConfig(
        vault=vault,
        public_url=url,
        chain_id=d.chain_id,
        ledger_address=d.ledger,
        declarations=declarations,
        sync_seconds=sync_seconds,
        audit=not no_audit,
        session_secret=secret,
        nonces_per_client=nonces_per_client,
    )
    with open_index(session, trust=trust_index) as index:
        note(
            f"serving {url}/passport/<battery id> on {host}:{port} (index at block {index.synced_block}, chain {d.chain_id}); Ctrl-C stops"
        )
        rinne.serve(index, config, ledger, host=host, port=port)
    note("stopped")
