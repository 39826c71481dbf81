"""A bounded load test on loopback: 200 concurrent readers of passport pages against `rinne serve` (the
installed command, a subprocess over a real Anvil, following the chain as it serves), with the client in this
process on the same cores. Two loads: people scanning labels (each of 200 readers opens a page, reads it for
two seconds, opens the next) and a burst (each of 200 readers asks again the moment an answer arrives).
Prints p50/p99 latency of each; asserts no error and generous p99 bounds (the issue's goal, p99 < 100 ms on
2 cores, is what the printed figures are read against: CI machines vary). Measured here on 2 cores: scanning
p99 9 ms; the burst 2,700-3,100 answers a second, p99 97-102 ms."""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from urllib.parse import urlsplit

import pytest
from conftest import Served

pytestmark = [pytest.mark.slow, pytest.mark.chain, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

READERS = 200
#: Pages each reader opens, and seconds it reads one before the next (0: the burst).
SCANS, READ_S = 5, 2.0
BURST = 25
#: What the test asserts (generous, for a loaded CI machine); the figures measured are printed.
P99_SCAN_S = 0.5
P99_BURST_S = 1.0
PAGES = [
    ("/passport/UN043325711SN-3", {}),  # the QR code's page, HTML
    ("/passport/PACK3", {"Accept": "application/json"}),  # Battery Pass JSON
    ("/passport/SN-3", {"Accept": "application/vnd.rinne.pact+json"}),  # PACT, by serial
    ("/lot/ORE-CO3", {}),
]


async def _reader(host: str, port: int, n: int, pages: int, pause: float, latencies: list[float], errors: list[str]) -> None:
    """One reader on one keep-alive connection: plain HTTP/1.1 over asyncio streams (httpx's pool, not the
    service, is what limits an httpx client at 200 connections: about 120 answers a second)."""
    await asyncio.sleep(pause * n / READERS)  # readers arrive spread over one reading time
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for i in range(pages):
            path, headers = PAGES[(n + i) % len(PAGES)]
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            t = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode())
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            length = int(re.search(r"content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t)
            if not head.startswith("http/1.1 200") or "x-rinne-block:" not in head:
                errors.append(f"{path}: {head.splitlines()[0]}")
            await asyncio.sleep(pause)
    except (OSError, asyncio.IncompleteReadError) as e:
        errors.append(f"reader {n}: {type(e).__name__}")
    finally:
        writer.close()


async def _readers(url: str, pages: int, pause: float) -> tuple[list[float], list[str]]:
    u = urlsplit(url)
    assert u.hostname is not None and u.port is not None
    latencies: list[float] = []
    errors: list[str] = []
    await asyncio.gather(*(_reader(u.hostname, u.port, n, pages, pause, latencies, errors) for n in range(READERS)))
    return latencies, errors


def _run(served: Served, what: str, pages: int, pause: float) -> float:
    t0 = time.perf_counter()
    latencies, errors = asyncio.run(asyncio.wait_for(_readers(served.url, pages, pause), timeout=25))
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
    print(
        f"\n{what}: {READERS} readers x {pages} pages on {os.cpu_count()} cores, {len(lat)} requests in {wall:.2f} s "
        f"({len(lat) / wall:.0f}/s): p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
    )
    assert not errors, errors[:5]
    assert len(lat) == READERS * pages
    return p99


def test_200_concurrent_readers(served: Served) -> None:
    for path, headers in PAGES:  # warm: the exports are built once per synced block
        assert served.get(path, headers=headers).status_code == 200
    assert _run(served, f"scanning (a page every {READ_S:g} s each)", SCANS, READ_S) < P99_SCAN_S
    assert _run(served, "burst (back to back)", BURST, 0.0) < P99_BURST_S
