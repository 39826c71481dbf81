"""The vault in the shared PostgreSQL database when the index lives there (issue 17).

With --index / $RINNE_INDEX_URL on PostgreSQL, the openings a party writes go to the database's vault tables,
encrypted (the database sees ciphertexts and wrapped keys, never a site or a document hash), while the key
stays in the party's data directory, 0600; `rinne disclose` reads them back from there and the disclosure
verifies against the chain.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from eth_utils import keccak
from index_backends import pg_url

from ledger import evidence_vault_id, local_vault, lot_record_id

pytestmark = pytest.mark.chain


@pytest.fixture
def shared(tmp_path: Path):
    schema = f"v{secrets.token_hex(4)}"
    url = f"{pg_url()}?schema={schema}"
    yield url
    import psycopg

    with psycopg.connect(pg_url(), autocommit=True) as conn:
        for s in (schema, f"{schema}_vault"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')


def test_openings_go_to_the_shared_database_encrypted_and_disclose_from_there(rinne, shared: str, tmp_path: Path) -> None:
    env = {"RINNE_INDEX_URL": shared}
    assay = tmp_path / "assay.pdf"
    assay.write_bytes(b"assay certificate, shared vault")
    rinne.json("lot", "mint", "SV-1", "--material", "ORE-CO", "--mass", "10t", "--elements", "Co=1t",
               "--origin", "CD:Tenke", "--evidence", str(assay), "--account", "miner", "--yes", env=env)  # fmt: skip
    # Not in the data directory's folder vault: in the database's.
    folder = local_vault(rinne.home, create=False)
    assert folder is not None and lot_record_id("SV-1") not in folder
    db = local_vault(rinne.home, create=False, url=shared)
    assert db is not None and db.openings(lot_record_id("SV-1")).fields["site"].value == "Tenke"
    # What the database holds is ciphertext: no site, no document hash, no field name.
    import psycopg

    schema = shared.rsplit("=", 1)[1] + "_vault"
    with psycopg.connect(pg_url(), autocommit=True) as conn:
        blobs = [bytes(r[0]) for r in conn.execute(f'SELECT blob FROM "{schema}".vault_objects').fetchall()]
        entries = [bytes(r[0]) for r in conn.execute(f'SELECT entry FROM "{schema}".vault_records').fetchall()]
    document = keccak(assay.read_bytes()).hex().encode()
    assert len(blobs) == 2 and len(entries) == 2  # the origin record and the evidence record
    for data in blobs + entries:
        assert b"Tenke" not in data and document not in data and b"site" not in data
    # Disclosed from the shared vault (the index on PostgreSQL too), checked against the chain.
    out = tmp_path / "site.json"
    rinne.json("disclose", "lot:SV-1", "--tier", "authority", "--out", str(out), rpc=False, env=env)
    assert rinne.json("verify-disclosure", str(out), env=env)["fields"] == {"country": "CD", "site": "Tenke"}
    # The evidence word, as the shared vault files it (its record ids are public words: the chain shows them).
    (word,) = [json.loads(e)["record_id"].removeprefix("word:") for e in entries if b'"word:' in e]
    assert evidence_vault_id(word) in db
    out = tmp_path / "assay.json"
    rinne.json("disclose", f"word:{word}", "--out", str(out), "--index", shared, rpc=False)
    assert rinne.json("verify-disclosure", str(out), env=env)["fields"] == {"document": "0x" + document.decode()}
