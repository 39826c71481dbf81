"""Deployment records, one JSON file per chain id in the data directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ledger.errors import ConfigError
from ledger.models import Deployment


def deployment_file(data_dir: Path, chain_id: int) -> Path:
    """Return the path of the deployment record of `chain_id`."""
    return Path(data_dir) / "deployments" / f"{chain_id}.json"


def load_deployment(data_dir: Path, chain_id: int) -> Deployment | None:
    """Read the recorded deployment of `chain_id`, or None when there is none."""
    path = deployment_file(data_dir, chain_id)
    if not path.exists():
        return None
    try:
        return Deployment.model_validate_json(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not a valid deployment record: {str(exc).splitlines()[0]}") from None


def save_deployment(data_dir: Path, deployment: Deployment) -> Path:
    """Record a deployment atomically (temp file + rename)."""
    path = deployment_file(data_dir, deployment.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".deploy-")
    with os.fdopen(fd, "w") as f:
        f.write(deployment.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)
    return path
