"""Private folders and atomic files: the one way Rinne writes anything to disk.

Every file Rinne writes (keystores, deployment records, attestation files) goes through
:func:`write_atomic`: a fresh temp file in the same folder, fsynced, then renamed (or, when it must
never replace an existing file, hard-linked) into place, and the folder fsynced. A reader never sees
half a file and a crash leaves either the old file or the new one.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from ledger.errors import ConfigError, LedgerError

log = logging.getLogger("ledger")


def private_folder(directory: Path, *, what: str = "data folder", error: type[LedgerError] = ConfigError) -> None:
    """Make an existing folder private (mode 0700) if group or others have any access to it.

    Only the owner may change a folder's mode, and a folder another user owns can be rewritten by
    them whatever its mode: such a folder is refused with ``error`` rather than trusted. A missing
    folder is left alone (it is created 0700 when first written).
    """
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        return
    except OSError as e:
        raise error(f"cannot read {what} {directory}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {directory} exists and is not a folder")
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077:
        return
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise error(
            f"{what} {directory} is open to other users (mode {mode:04o}) and belongs to uid {st.st_uid}, "
            "not to you, so it cannot be made private: use a folder of your own"
        )
    try:
        os.chmod(directory, 0o700)
    except OSError as e:
        raise error(
            f"{what} {directory} is open to other users (mode {mode:04o}) and cannot be made private: {e.strerror or e}"
        ) from None
    log.warning("%s %s was open to other users (mode %04o): made it private (0700)", what, directory, mode)


def ensure_private_folder(directory: Path, *, what: str = "data folder", error: type[LedgerError] = ConfigError) -> None:
    """Create `directory` (and its parents) with mode 0700, or make an existing one private."""
    if directory.is_dir():
        private_folder(directory, what=what, error=error)
        return
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    except FileExistsError:
        if not directory.is_dir():
            raise error(f"{directory} exists and is not a folder") from None
        private_folder(directory, what=what, error=error)
    except OSError as e:
        raise error(f"cannot create {what} {directory}: {e.strerror or e}") from None


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, replace: bool = True) -> None:
    """Write `data` to `path` (file mode `mode`) so that readers see the old file or the new one, never half.

    With ``replace=False`` an existing file is never replaced, even one that appears while writing:
    :class:`FileExistsError` is raised and nothing is changed.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the name exists: atomic like rename, but never replaces
            except FileExistsError:
                raise
            except OSError:
                _write_exclusive(path, data, mode)  # filesystems without hard links
    finally:
        tmp.unlink(missing_ok=True)
    fsync_folder(path.parent)


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def fsync_folder(directory: Path) -> None:
    """Flush a folder's entries to disk (best effort: some filesystems refuse fsync on folders)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
