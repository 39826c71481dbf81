"""The tests' QR reader (qr_decode) against segno, the encoder the passports use: every version and level,
numeric, alphanumeric and byte data, at the scales labels and screenshots use. A reader that misread would
make the browser test's scan prove nothing."""

from __future__ import annotations

import io

import pytest
import segno
from qr_decode import QrUnreadable, decode_png

TEXTS = ["https://passports.example/passport/UN043325711SN-3", "UN043325711SN-3", "0123456789012345", "Ni 52% · Co 8%", "x" * 400]


@pytest.mark.parametrize("error", ["l", "m", "q", "h"])
def test_reads_back_what_segno_writes(error: str) -> None:
    read = 0
    for version in (1, 2, 4, 6, 7, 9, 10, 14, 21, 27, 40):
        for text in TEXTS:
            try:
                symbol = segno.make(text, version=version, error=error, micro=False, boost_error=False)
            except segno.DataOverflowError:
                continue
            for scale in (1, 4) if version <= 10 else (1,):
                buf = io.BytesIO()
                symbol.save(buf, kind="png", scale=scale, border=4)
                assert decode_png(buf.getvalue()) == text, (version, error, scale, text)
                read += 1
    assert read > 40


def test_a_png_without_a_code_is_unreadable() -> None:
    buf = io.BytesIO()
    segno.make("x", micro=False).save(buf, kind="png", scale=4, dark="#ffffff")
    with pytest.raises(QrUnreadable):
        decode_png(buf.getvalue())
