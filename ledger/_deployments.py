"""Deployment records, one JSON file per chain id in the data directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ledger._keys import private_folder
from ledger.errors import ConfigError
from ledger.models import Deployment


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
    """Record a deployment atomically (temp file + rename)."""
    path = deployment_file(data_dir, deployment.chain_id)
    _private_dir(Path(data_dir))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".deploy-")
    with os.fdopen(fd, "w") as f:
        f.write(deployment.model_dump_json(indent=2) + "\n")
    os.replace(tmp, path)
    return path


def _private_dir(data_dir: Path) -> None:
    """Create the data folder 0700, or make an existing one private (refused if another user owns it)."""
    if not data_dir.exists():
        try:
            data_dir.mkdir(parents=True, mode=0o700)
            os.chmod(data_dir, 0o700)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(f"cannot create data folder {data_dir}: {exc.strerror or exc}") from None
    private_folder(data_dir, what="data folder", error=ConfigError)
