"""Deployment records, one JSON file per chain id in the data directory."""

from __future__ import annotations

from pathlib import Path

from ledger.domain.models import Deployment
from ledger.errors import ConfigError
from ledger.local.files import ensure_private_folder, private_folder, write_atomic


def deployment_file(data_dir: Path, chain_id: int) -> Path:
    """Return the path of the deployment record of `chain_id`."""
    return Path(data_dir) / "deployments" / f"{chain_id}.json"


def load_deployment(data_dir: Path, chain_id: int) -> Deployment | None:
    """Read the recorded deployment of `chain_id`, or None when there is none."""
    path = deployment_file(data_dir, chain_id)
    # Whoever can write the record chooses the contracts we trust: the data folder is the user's alone.
    private_folder(Path(data_dir), what="data folder", error=ConfigError)
    if not path.exists():
        return None
    try:
        return Deployment.model_validate_json(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not a valid deployment record: {str(exc).splitlines()[0]}") from None


def save_deployment(data_dir: Path, deployment: Deployment) -> Path:
    """Record a deployment atomically (temp file + rename, 0600) in the private data folder."""
    path = deployment_file(data_dir, deployment.chain_id)
    ensure_private_folder(Path(data_dir))
    ensure_private_folder(path.parent)
    write_atomic(path, (deployment.model_dump_json(indent=2) + "\n").encode())
    return path
