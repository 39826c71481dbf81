"""Atomic writes and private folders (ledger/local/files.py), on real files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ledger.errors import ConfigError
from ledger.local.files import ensure_private_folder, private_folder, write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_replaces_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert _mode(target) == 0o600
    assert os.listdir(tmp_path) == ["record.json"]


def test_write_without_replace_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "alice"
    target.write_text("someone else's")
    with pytest.raises(FileExistsError):
        write_atomic(target, b"{}", replace=False)
    assert target.read_text() == "someone else's"
    assert os.listdir(tmp_path) == ["alice"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "record.json"
    write_atomic(target, b"old")

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["record.json"]


def test_mode_is_what_is_asked_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_atomic(tmp_path / "public.json", b"{}", mode=0o644)
        write_atomic(tmp_path / "secret.json", b"{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "public.json") == 0o644
    assert _mode(tmp_path / "secret.json") == 0o600


def test_folders_are_made_and_kept_private(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "data"
    ensure_private_folder(folder)
    assert _mode(folder) == 0o700
    os.chmod(folder, 0o755)
    private_folder(folder)
    assert _mode(folder) == 0o700


def test_a_file_where_a_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(ConfigError, match="not a folder"):
        ensure_private_folder(tmp_path / "data")
    with pytest.raises(ConfigError, match="not a folder"):
        private_folder(tmp_path / "data")
