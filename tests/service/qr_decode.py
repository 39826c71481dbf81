"""Read a QR code back out of a PNG, offline: no zbar, OpenCV or zxing is installed here, so the tests scan
a printed passport label with this small reader of ISO/IEC 18004 (model 2) symbols.

It reads clean, upright, unrotated symbols (what `rinne passport --qr` writes, or a screenshot of one at an
integer scale): PNG pixels -> module grid -> format information (the nearest of the 32 valid codes) ->
unmasked codewords in the standard zigzag order -> data codewords of each block -> numeric, alphanumeric
and byte segments. It corrects no errors (a damaged label would need Reed-Solomon decoding); a symbol it
misreads gives a wrong or unreadable string, which the tests compare against the URL expected.
"""

from __future__ import annotations

import struct
import zlib

# Error-correction codewords per block and number of blocks, by level (L, M, Q, H) and version (index 0 unused):
# ISO/IEC 18004:2015 Table 9.
_ECC_PER_BLOCK = {
    "L": [
        -1,
        7,
        10,
        15,
        20,
        26,
        18,
        20,
        24,
        30,
        18,
        20,
        24,
        26,
        30,
        22,
        24,
        28,
        30,
        28,
        28,
        28,
        28,
        30,
        30,
        26,
        28,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
    ],
    "M": [
        -1,
        10,
        16,
        26,
        18,
        24,
        16,
        18,
        22,
        22,
        26,
        30,
        22,
        22,
        24,
        24,
        28,
        28,
        26,
        26,
        26,
        26,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
        28,
    ],
    "Q": [
        -1,
        13,
        22,
        18,
        26,
        18,
        24,
        18,
        22,
        20,
        24,
        28,
        26,
        24,
        20,
        30,
        24,
        28,
        28,
        26,
        30,
        28,
        30,
        30,
        30,
        30,
        28,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
    ],
    "H": [
        -1,
        17,
        28,
        22,
        16,
        22,
        28,
        26,
        26,
        24,
        28,
        24,
        28,
        22,
        24,
        24,
        30,
        28,
        28,
        26,
        28,
        30,
        24,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
        30,
    ],
}
_BLOCKS = {
    "L": [
        -1,
        1,
        1,
        1,
        1,
        1,
        2,
        2,
        2,
        2,
        4,
        4,
        4,
        4,
        4,
        6,
        6,
        6,
        6,
        7,
        8,
        8,
        9,
        9,
        10,
        12,
        12,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        19,
        20,
        21,
        22,
        24,
        25,
    ],
    "M": [
        -1,
        1,
        1,
        1,
        2,
        2,
        4,
        4,
        4,
        5,
        5,
        5,
        8,
        9,
        9,
        10,
        10,
        11,
        13,
        14,
        16,
        17,
        17,
        18,
        20,
        21,
        23,
        25,
        26,
        28,
        29,
        31,
        33,
        35,
        37,
        38,
        40,
        43,
        45,
        47,
        49,
    ],
    "Q": [
        -1,
        1,
        1,
        2,
        2,
        4,
        4,
        6,
        6,
        8,
        8,
        8,
        10,
        12,
        16,
        12,
        17,
        16,
        18,
        21,
        20,
        23,
        23,
        25,
        27,
        29,
        34,
        34,
        35,
        38,
        40,
        43,
        45,
        48,
        51,
        53,
        56,
        59,
        62,
        65,
        68,
    ],
    "H": [
        -1,
        1,
        1,
        2,
        4,
        4,
        4,
        5,
        6,
        8,
        8,
        11,
        11,
        16,
        16,
        18,
        16,
        19,
        21,
        25,
        25,
        25,
        34,
        30,
        32,
        35,
        37,
        40,
        42,
        45,
        48,
        51,
        54,
        57,
        60,
        63,
        66,
        70,
        74,
        77,
        81,
    ],
}
#: The two format bits of each level.
_LEVEL_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_MASKS = [
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
]


class QrUnreadable(ValueError):
    """A PNG holding no QR code this reader can read."""


# ------------------------------------------------------------------------------------------- pixels


def png_luma(data: bytes) -> list[list[int]]:
    """Decode a non-interlaced PNG (grey, RGB, palette, with or without alpha; 1-8 bits) into rows of luma 0-255."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise QrUnreadable("not a PNG")
    pos, idat, palette = 8, b"", b""
    width = height = depth = color = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if interlace:
                raise QrUnreadable("interlaced PNG")
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    bits = channels * depth
    stride, bpp = (width * bits + 7) // 8, max(1, bits // 8)
    raw = zlib.decompress(idat)
    prev = bytearray(stride)
    rows: list[list[int]] = []
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        prev = line
        row = []
        for x in range(width):
            if depth < 8:
                v = (line[x * depth // 8] >> (8 - depth - (x * depth) % 8)) & ((1 << depth) - 1)
                sample = [v * 255 // ((1 << depth) - 1)] if color == 0 else [v]
            else:
                sample = list(line[x * channels : (x + 1) * channels])
            if color == 3:
                r, g, bl = palette[3 * sample[0] : 3 * sample[0] + 3]
            elif color in (0, 4):
                r = g = bl = sample[0]
            else:
                r, g, bl = sample[:3]
            row.append((299 * r + 587 * g + 114 * bl) // 1000)
        rows.append(row)
    return rows


def modules(luma: list[list[int]]) -> list[list[bool]]:
    """Sample the module grid (True: dark) of the one upright QR code in an image."""
    dark = [[v < 128 for v in row] for row in luma]
    ys = [y for y, row in enumerate(dark) if any(row)]
    if not ys:
        raise QrUnreadable("no dark pixels")
    top, bottom = ys[0], ys[-1]
    left = min(row.index(True) for row in dark if any(row))
    right = max(len(row) - 1 - row[::-1].index(True) for row in dark if any(row))
    run = 0
    while left + run <= right and dark[top][left + run]:
        run += 1
    unit = run / 7  # the top-left finder is seven modules wide
    n = round((right - left + 1) / unit)
    if n < 21 or (n - 17) % 4 or abs((bottom - top + 1) / unit - n) > 0.5:
        raise QrUnreadable(f"not a QR code: {right - left + 1} x {bottom - top + 1} px at {unit:.2f} px a module")
    return [[dark[top + int((r + 0.5) * unit)][left + int((c + 0.5) * unit)] for c in range(n)] for r in range(n)]


# ------------------------------------------------------------------------------------------- symbol


def _format_code(level: str, mask: int) -> int:
    data = _LEVEL_BITS[level] << 3 | mask
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    return (data << 10 | rem) ^ 0x5412


def _alignment(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    pos = [version * 4 + 10 - i * step for i in range(count - 1)]
    return [6, *reversed(pos)]


def _function_map(n: int, version: int) -> list[list[bool]]:
    f = [[False] * n for _ in range(n)]

    def box(r0: int, c0: int, h: int, w: int) -> None:
        for r in range(max(0, r0), min(n, r0 + h)):
            for c in range(max(0, c0), min(n, c0 + w)):
                f[r][c] = True

    box(0, 0, 9, 9)  # finder, separator, format
    box(0, n - 8, 9, 8)
    box(n - 8, 0, 8, 9)  # includes the dark module
    box(6, 0, 1, n)  # timing
    box(0, 6, n, 1)
    al = _alignment(version)
    for i, r in enumerate(al):
        for j, c in enumerate(al):
            if (i, j) not in ((0, 0), (0, len(al) - 1), (len(al) - 1, 0)):
                box(r - 2, c - 2, 5, 5)
    if version >= 7:
        box(0, n - 11, 6, 3)
        box(n - 11, 0, 3, 6)
    return f


def _raw_modules(version: int) -> int:
    result = (16 * version + 128) * version + 64
    if version >= 2:
        count = version // 7 + 2
        result -= (25 * count - 10) * count - 55
        if version >= 7:
            result -= 36
    return result


def decode_modules(m: list[list[bool]]) -> str:
    """Decode a module grid into the text it carries."""
    n = len(m)
    version = (n - 17) // 4
    bit = lambda x, y: int(m[y][x])  # noqa: E731 - x is the column, y the row, as the standard counts them
    read = [bit(8, i) for i in range(6)] + [bit(8, 7), bit(8, 8), bit(7, 8)] + [bit(14 - i, 8) for i in range(9, 15)]
    seen = sum(b << i for i, b in enumerate(read))
    level, mask = min(((lv, mk) for lv in _LEVEL_BITS for mk in range(8)), key=lambda p: bin(_format_code(*p) ^ seen).count("1"))
    if bin(_format_code(level, mask) ^ seen).count("1") > 3:
        raise QrUnreadable("unreadable format information")
    func = _function_map(n, version)
    bits: list[int] = []
    right = n - 1
    while right >= 1:
        if right == 6:
            right = 5
        for vert in range(n):
            for j in range(2):
                x = right - j
                y = n - 1 - vert if ((right + 1) & 2) == 0 else vert
                if not func[y][x]:
                    bits.append(bit(x, y) ^ int(_MASKS[mask](x, y)))
        right -= 2
    total = _raw_modules(version) // 8
    codewords = [int("".join(map(str, bits[i * 8 : i * 8 + 8])), 2) for i in range(total)]
    blocks, ecc = _BLOCKS[level][version], _ECC_PER_BLOCK[level][version]
    short = blocks - total % blocks
    short_data = total // blocks - ecc
    data_blocks: list[list[int]] = [[] for _ in range(blocks)]
    k = 0
    for i in range(short_data + 1):
        for j in range(blocks):
            if i == short_data and j < short:
                continue
            data_blocks[j].append(codewords[k])
            k += 1
    stream = "".join(f"{b:08b}" for blk in data_blocks for b in blk)
    return _segments(stream, version)


def _segments(stream: str, version: int) -> str:
    pos, out = 0, []

    def take(k: int) -> int:
        nonlocal pos
        v = int(stream[pos : pos + k] or "0", 2)
        pos += k
        return v

    size = 0 if version <= 9 else 1 if version <= 26 else 2
    while pos + 4 <= len(stream):
        mode = take(4)
        if mode == 0:
            break
        if mode == 0b0111:  # ECI: its designator (one byte for the values text uses)
            take(8)
        elif mode == 0b0100:
            count = take((8, 16, 16)[size])
            raw = bytes(take(8) for _ in range(count))
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:  # the standard's default byte set, which segno uses when the text fits it
                out.append(raw.decode("latin-1"))
        elif mode == 0b0010:
            count = take((9, 11, 13)[size])
            for _ in range(count // 2):
                v = take(11)
                out.append(_ALNUM[v // 45] + _ALNUM[v % 45])
            if count % 2:
                out.append(_ALNUM[take(6)])
        elif mode == 0b0001:
            count = take((10, 12, 14)[size])
            for _ in range(count // 3):
                out.append(f"{take(10):03d}")
            rest = count % 3
            if rest:
                out.append(f"{take(4 if rest == 1 else 7):0{rest}d}")
        else:
            raise QrUnreadable(f"segment mode {mode:04b} is not read here")
    return "".join(out)


def decode_png(data: bytes) -> str:
    """Return the text of the QR code in a PNG."""
    return decode_modules(modules(png_luma(data)))
