"""Open HTML pages in headless Chromium (Debian package `chromium`): DOM dump, screenshot, pixel counts."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Why browser tests skip where Chromium is missing.
MISSING = "headless Chromium is not installed: `apt-get install -y chromium` (Debian package chromium)"

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def _run(args: list[str], tmp: Path) -> str:
    assert CHROMIUM is not None, MISSING
    profile = tmp / "profile"
    proc = subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def render(html: str, name: str, tmp: Path, size: str = "1200,900") -> tuple[str, list[list[tuple[int, int, int]]]]:
    """Open the page: return Chromium's DOM dump and the screenshot's pixels (also saved as an artifact)."""
    page = tmp / f"{name}.html"
    page.write_text(html, encoding="utf-8")
    dom = _run(["--dump-dom", page.as_uri()], tmp)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    _run([f"--screenshot={shot}", f"--window-size={size}", page.as_uri()], tmp)
    (ARTIFACTS / f"{name}.html").write_text(html, encoding="utf-8")
    return dom, read_png(shot.read_bytes())


def read_png(data: bytes) -> list[list[tuple[int, int, int]]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) into rows of RGB pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[list[tuple[int, int, int]]] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, bpp)])
        prev = line
    return rows


def count(pixels: list[list[tuple[int, int, int]]], hex_color: str) -> int:
    """Number of pixels of exactly this colour."""
    rgb = tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return sum(row.count(rgb) for row in pixels)  # type: ignore[arg-type]
