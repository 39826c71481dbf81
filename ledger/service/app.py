"""The passport service: a read-only ASGI app (Starlette) over one event index, serving the page a
battery's QR code opens, the same data as Battery Pass, IDTA-02035 and PACT JSON, lot and unit pages,
provenance, the audit and search, with access by Annex XIII tier after Sign-In with Ethereum.

Routes, the role -> tier table and the sign-in flow are in docs/service.md; the JSON API is described by
``/openapi.json`` (:mod:`ledger.service.openapi`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger import errors
from ledger.domain.ids import label_of
from ledger.exports.batterypass import TIERS
from ledger.index.store import EventIndex
from ledger.service import pages
from ledger.service.catalogue import AmbiguousId, Catalogue, PassportGone
from ledger.service.openapi import openapi_schema
from ledger.service.session import COOKIE, SessionSigner
from ledger.service.siwe import NonceStore, SignInError, SiweMessage, TooManySignIns, iso, verify_sign_in
from ledger.service.tiers import LEGITIMATE_INTEREST, PUBLIC, rank

if TYPE_CHECKING:
    from ledger.auditor.report import AuditReport
    from ledger.client.ledger import Ledger
    from ledger.local.vault import Vault

log = logging.getLogger("ledger.service")

#: Longest path and query string the service reads; longer requests are refused before any routing.
MAX_PATH = 512
MAX_QUERY = 1_024
MAX_BODY = 8_192
#: Where /signin may send the reader back to: a path on this site, in characters no URL parser strips or
#: reinterprets (a tab or a newline in "/\t/evil.example" is dropped by browsers, leaving "//evil.example").
_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,255}$")
#: Accept media type -> format; a format parameter wins over Accept.
MEDIA = {
    "text/html": "html",
    "application/vnd.rinne.batterypass+json": "batterypass",
    "application/vnd.rinne.idta-02035+json": "idta",
    "application/vnd.rinne.pact+json": "pact",
    "application/json": "json",
}


@dataclass
class ServiceConfig:
    """How the service presents itself and what it follows.

    `public_url` is the origin readers reach the service at (its host is the Sign-In with Ethereum domain;
    declare ``passportBaseUrl`` as ``<public_url>/passport`` so the QR code opens the passport page).
    `declarations` are per-unit declaration documents (unit label or 0x id -> the JSON ``rinne passport
    --declarations`` reads). `sync_seconds` is how often the index follows the chain when there is one.
    `session_secret` is the HMAC key of the session cookies (32 bytes or more); None draws one from
    ``os.urandom`` at start, so a restart signs everyone out. `nonces_per_client` caps the unused sign-in
    nonces one peer address may hold (0: no cap, for a service behind a proxy that limits rates itself).
    """

    public_url: str = "http://127.0.0.1:8000"
    chain_id: int | None = None
    ledger_address: str | None = None
    declarations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    session_seconds: int = 900
    nonce_seconds: int = 300
    nonces_per_client: int = 20
    sync_seconds: float = 5.0
    audit: bool = True
    session_secret: bytes | None = field(default=None, repr=False)
    #: The vault whose openings the service may use (its key's grants): it finds units by their salted serials,
    #: lots by their salted sites, and shows each serial with its proof. None: only what the chain shows in clear.
    vault: Vault | None = field(default=None, repr=False)

    @property
    def domain(self) -> str:
        """The EIP-4361 domain: the public URL's host and port."""
        return urlsplit(self.public_url).netloc


class HttpError(Exception):
    """An answer other than 200, with the one line that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _status_of(exc: errors.LedgerError) -> int:
    if isinstance(exc, TooManySignIns):
        return 429
    if isinstance(exc, SignInError):
        return 401
    if isinstance(exc, AmbiguousId):
        return 409
    if isinstance(exc, PassportGone):
        return 410
    if isinstance(exc, errors.UnknownLot):
        return 404
    return 400


class Limits:
    """ASGI middleware: refuse oversized paths, queries and bodies, and set the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request's size, then pass it on with the headers added to the answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_long = len(scope.get("raw_path") or scope["path"].encode()) > MAX_PATH or len(scope.get("query_string", b"")) > MAX_QUERY
        if too_long:
            await JSONResponse({"error": f"request too long: a path is at most {MAX_PATH} bytes, a query {MAX_QUERY}"}, 414)(
                scope, receive, send
            )
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"content-security-policy", pages.CSP.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PassportService:
    """The app's state: the index, its lock, sessions, nonces, and the latest audit."""

    def __init__(self, index: EventIndex, config: ServiceConfig, ledger: Ledger | None = None) -> None:
        self.index = index
        self.config = config
        self.ledger = ledger
        self.catalogue = Catalogue(
            index, chain_id=config.chain_id, ledger_address=config.ledger_address, declarations=config.declarations, vault=config.vault
        )
        self.sessions = SessionSigner(config.session_seconds, config.session_secret)
        self.nonces = NonceStore(config.nonce_seconds, per_client=config.nonces_per_client)
        self.lock = asyncio.Lock()
        self.report: AuditReport | None = None
        self.report_block: int | None = None
        self.sync_error: str | None = None
        self.audit_error: str | None = None
        self._audit_tried: int | None = None

    # -------------------------------------------------------------- following the chain

    async def follow(self) -> None:
        """Sync the index from the chain every `sync_seconds` (and audit after each new block), forever."""
        assert self.ledger is not None
        ledger = self.ledger
        while True:
            try:
                async with self.lock:
                    await asyncio.to_thread(self.index.sync, ledger)
                    self.sync_error = None
            except errors.LedgerError as e:
                # A node that is down for a while is not fatal: the pages keep saying which block they are current to.
                self.sync_error = _line(e)
                log.warning("sync failed: %s", self.sync_error)
            block = self.catalogue.block
            if self.config.audit and self._audit_tried != block:
                # Once per new block: an audit that fails (a node without the history it asks for) is not
                # retried every round; /audit and /api/status say why.
                self._audit_tried = block
                try:
                    await self._audit(ledger)
                    self.audit_error = None
                except errors.LedgerError as e:
                    self.audit_error = _line(e)
                    log.warning("audit failed: %s", self.audit_error)
            await asyncio.sleep(self.config.sync_seconds)

    async def _audit(self, ledger: Ledger) -> None:
        from ledger.auditor.run import audit

        block = self.catalogue.block
        if self.index.path == ":memory:":
            async with self.lock:
                self.report = await asyncio.to_thread(audit, ledger, self.index, sync=False)
        else:
            # The audit replays everything: it reads the file on its own connection, outside the lock, so
            # readers are not held up while it runs; the sync, the one writer, runs only after it (`follow`).
            def run() -> AuditReport:
                with self.index.reopen() as idx:
                    return audit(ledger, idx, sync=False)

            self.report = await asyncio.to_thread(run)
        self.report_block = block

    # -------------------------------------------------------------- readers

    def reader(self, request: Request) -> tuple[str, str | None]:
        """Return the reader's tier and signed-in account: from the session cookie and the registry as it is now."""
        address = self.sessions.read(request.cookies.get(COOKIE))
        if address is None:
            return PUBLIC, None
        return self.catalogue.tier_for(address), address

    def tier(self, request: Request) -> tuple[str, str | None]:
        """Return the tier to answer at: the reader's, or a lower one the `tier` parameter asks for (never a higher one)."""
        granted, address = self.reader(request)
        asked = request.query_params.get("tier")
        if asked is None:
            return granted, address
        if asked not in TIERS:
            raise HttpError(400, f"unknown tier {asked[:40]!r}; tiers: {', '.join(TIERS)}")
        if rank(asked) > rank(granted):
            raise HttpError(403, f"the {asked} tier needs a signed-in party whose role grants it; you have the {granted} tier")
        return asked, address

    def headers(self, tier: str) -> dict[str, str]:
        """Headers every answer carries: its block and tier, and no caching by anyone but this reader."""
        return {
            "X-Rinne-Block": str(self.catalogue.block),
            "X-Rinne-Tier": tier,
            "Cache-Control": "private, no-store",
            "Vary": "Accept, Cookie",
        }


def safe_next(path: str) -> str:
    """Return `path` when it is a path on this site to go back to after signing in, else ``/`` (no open redirect)."""
    return path if _NEXT.match(path) else "/"


def _wants(request: Request, allowed: tuple[str, ...], default: str) -> str:
    fmt = request.query_params.get("format")
    if fmt is not None:
        if fmt not in allowed:
            raise HttpError(406, f"format {fmt[:40]!r} is not served here; formats: {', '.join(allowed)}")
        return fmt
    best: tuple[float, str] | None = None
    for part in request.headers.get("accept", "")[:1_024].split(",")[:20]:
        media, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        f = MEDIA.get(media.strip().lower())
        if f == "json":
            f = "batterypass" if "batterypass" in allowed else "json"
        if f in allowed and q > 0 and (best is None or q > best[0]):
            best = (q, f)
    return best[1] if best else default


def _data_wanted(request: Request) -> bool:
    """Whether a page route answers with its data as JSON: under /api/, or asked for by Accept or `format`."""
    return request.url.path.startswith("/api/") or _wants(request, ("html", "json"), "html") == "json"


def _json_wanted(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/auth/")) or "json" in request.headers.get("accept", "")[:1_024]


def create_app(index: EventIndex, config: ServiceConfig | None = None, ledger: Ledger | None = None) -> Starlette:
    """Return the passport service over `index` (following the chain through `ledger` when given)."""
    cfg = config or ServiceConfig()
    svc = PassportService(index, cfg, ledger)

    def handler(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                async with svc.lock:
                    return await fn(request)
            except HttpError as e:
                status, message = e.status, str(e)
            except errors.LedgerError as e:
                status, message = _status_of(e), str(e).splitlines()[0] if str(e) else type(e).__doc__ or "error"
            except ValueError as e:
                status, message = 400, str(e).splitlines()[0]
            except Exception:
                # A bug, not the reader's fault: logged with its traceback, answered with one line.
                log.exception("%s %s failed", request.method, request.url.path)
                status, message = 500, "internal error: the service could not build this answer (its log says why)"
            if _json_wanted(request):
                return JSONResponse({"error": message}, status, headers=svc.headers(PUBLIC))
            return html(request, str(status), pages.error_page(status, message), PUBLIC, None, status)

        return run

    def html(request: Request, title: str, body: str, tier: str, address: str | None, status: int = 200) -> HTMLResponse:
        c = svc.catalogue
        page = pages.frame(title, body, tier=tier, address=address, path=request.url.path, block=c.block, chain_id=c.chain_id)
        return HTMLResponse(page, status, headers=svc.headers(tier))

    def answer(request: Request, data: Any, tier: str) -> JSONResponse:
        return JSONResponse(data, headers=svc.headers(tier))

    def status_doc(address: str | None, tier: str) -> dict[str, Any]:
        c = svc.catalogue
        return {
            "syncedBlock": c.block,
            "chainId": c.chain_id,
            "ledger": c.ledger_address,
            "following": svc.ledger is not None,
            "syncError": svc.sync_error,
            "auditError": svc.audit_error,
            "tier": tier,
            "account": address,
        }

    # ------------------------------------------------------------------ pages and data

    async def home(request: Request) -> Response:
        tier, address = svc.reader(request)
        if _wants(request, ("html", "json"), "html") == "json":
            return answer(request, status_doc(address, tier), tier)
        return html(request, "Rinne passports", pages.home_page(status_doc(address, tier)), tier, address)

    async def api_status(request: Request) -> Response:
        tier, address = svc.reader(request)
        return answer(request, status_doc(address, tier), tier)

    async def passport(request: Request) -> Response:
        tier, address = svc.tier(request)
        api = request.url.path.startswith("/api/")
        fmt = _wants(request, ("html", "batterypass", "idta", "pact"), "batterypass" if api else "html")
        c = svc.catalogue
        uid = c.resolve_unit(request.path_params["battery_id"])
        if fmt != "html":
            return Response(c.passport_json(uid, fmt, tier), media_type="application/json", headers=svc.headers(tier))
        page = pages.around(
            c.passport_page(uid, tier), tier=tier, address=address, path=request.url.path, block=c.block, chain_id=c.chain_id
        )
        return HTMLResponse(page, headers=svc.headers(tier))

    async def lot(request: Request) -> Response:
        tier, address = svc.tier(request)
        c = svc.catalogue
        info = c.lot(c.resolve(request.path_params["lot_id"]), tier)
        if _data_wanted(request):
            return answer(request, info, tier)
        return html(request, f"Lot {info['label']}", pages.lot_page(info), tier, address)

    async def unit(request: Request) -> Response:
        tier, address = svc.tier(request)
        c = svc.catalogue
        info = c.unit(c.resolve_unit(request.path_params["unit_id"]), tier)
        if _data_wanted(request):
            return answer(request, info, tier)
        return html(request, f"Unit {info['label']}", pages.unit_page(info), tier, address)

    async def provenance(request: Request) -> Response:
        tier, address = svc.tier(request)
        c = svc.catalogue
        lid = c.resolve(request.path_params["lot_id"])
        direction = request.query_params.get("direction", "up")
        if direction != "up" and lid in c.state().units and rank(tier) < rank(LEGITIMATE_INTEREST):
            # What a battery became (the units made from it, its recycling) is its use history, Annex XIII point 4.
            raise HttpError(403, f"what became of a battery is for the {LEGITIMATE_INTEREST} tier; you have the {tier} tier")
        t = c.provenance(lid, direction)
        if _data_wanted(request):
            return answer(request, t.to_dict(), tier)
        return html(request, f"Provenance of {label_of(lid)}", pages.provenance_page(t), tier, address)

    async def search(request: Request) -> Response:
        tier, address = svc.tier(request)
        q = request.query_params.get("q", "")
        hits = svc.catalogue.search(q, request.query_params.get("by"))
        if _data_wanted(request):
            return answer(request, {"query": q, "syncedBlock": svc.catalogue.block, "results": hits}, tier)
        return html(request, f"Search {q}", pages.search_page(q, hits), tier, address)

    async def audit_report(request: Request) -> Response:
        tier, address = svc.tier(request)
        if svc.report is None:
            if svc.ledger is None:
                why = "the audit runs against a chain: serve with one (rinne serve follows its chain)"
            elif svc.audit_error is not None:
                why = f"the audit of block {svc._audit_tried} failed: {svc.audit_error}"
            elif not cfg.audit:
                why = "the audit is turned off (rinne serve --no-audit)"
            else:
                why = "the first audit is still running"
            raise HttpError(503, why)
        if _data_wanted(request):
            return answer(request, {"auditedBlock": svc.report_block, "report": svc.report.model_dump(mode="json")}, tier)
        from ledger.auditor.html import audit_html

        body = (
            f'<p>Audit of block <b id="audited-block">{svc.report_block}</b></p>'
            + audit_html(svc.report).partition("<body>")[2].rpartition("</body>")[0]
        )
        return html(request, "Audit", body, tier, address)

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_schema(cfg.public_url))

    # ------------------------------------------------------------------ sign-in

    async def signin(request: Request) -> Response:
        tier, address = svc.reader(request)
        nxt = safe_next(request.query_params.get("next", "/"))
        return html(request, "Sign in", pages.signin_page(nxt), tier, address)

    async def signin_js(request: Request) -> Response:
        return Response(pages.SIGNIN_JS, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    async def nonce(request: Request) -> Response:
        from eth_utils import is_address, to_checksum_address

        address = request.query_params.get("address", "")
        if not is_address(address):
            raise HttpError(400, "give the 0x address of the account that will sign (address=...)")
        now = time.time()
        n = svc.nonces.issue(now, request.client.host if request.client else "")
        msg = SiweMessage(
            domain=cfg.domain,
            address=to_checksum_address(address),
            statement="Sign in to the Rinne passport service to read the passport tiers your registered role grants.",
            uri=cfg.public_url.rstrip("/") + "/",
            version="1",
            chain_id=svc.catalogue.chain_id,
            nonce=n,
            issued_at=iso(now),
            # The session the signer agrees to: it ends when the message expires (the nonce itself is
            # good for `nonce_seconds` only).
            expiration_time=iso(now + cfg.session_seconds),
        )
        return JSONResponse(
            {
                "nonce": n,
                "message": msg.text(),
                "domain": msg.domain,
                "uri": msg.uri,
                "chainId": msg.chain_id,
                "issuedAt": msg.issued_at,
                "expirationTime": msg.expiration_time,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def login(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise HttpError(413, f"a sign-in is at most {MAX_BODY} bytes")
        try:
            data = json.loads(body)
            text, signature = data["message"], data["signature"]
            if not isinstance(text, str) or not isinstance(signature, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise HttpError(400, 'post JSON {"message": "<EIP-4361 text>", "signature": "0x..."}') from None
        c = svc.catalogue
        msg, expires = verify_sign_in(
            text,
            signature,
            domain=cfg.domain,
            origin=cfg.public_url,
            chain_id=c.chain_id,
            nonces=svc.nonces,
            max_age=cfg.nonce_seconds,
        )
        p = c.participant(msg.address)
        if p is None or not p.registered:
            raise HttpError(403, f"{msg.address} is not registered on this ledger: it reads the public tier without signing in")
        if p.suspended:
            raise HttpError(403, f"{msg.address} is suspended on the registry: it reads the public tier only")
        tier = c.tier_for(msg.address)
        if tier == PUBLIC:
            roles = ", ".join(p.roles.names()) or "none"
            raise HttpError(403, f"{msg.address} has no role that grants more than the public tier (roles: {roles})")
        cookie, ttl = svc.sessions.issue(msg.address, not_after=expires)
        resp = JSONResponse({"account": msg.address, "tier": tier, "expiresIn": ttl}, headers=svc.headers(tier))
        resp.set_cookie(
            COOKIE, cookie, max_age=ttl, httponly=True, samesite="strict", secure=cfg.public_url.startswith("https://"), path="/"
        )
        return resp

    async def logout(request: Request) -> Response:
        svc.sessions.revoke(request.cookies.get(COOKIE))
        resp: Response = JSONResponse({"account": None, "tier": PUBLIC}) if request.method == "POST" else RedirectResponse("/", 303)
        resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return resp

    async def me(request: Request) -> Response:
        tier, address = svc.reader(request)
        return answer(request, {"account": address, "tier": tier}, tier)

    routes = [
        Route("/", handler(home)),
        Route("/passport/{battery_id}", handler(passport)),
        Route("/lot/{lot_id}", handler(lot)),
        Route("/unit/{unit_id}", handler(unit)),
        Route("/provenance/{lot_id}", handler(provenance)),
        Route("/search", handler(search)),
        Route("/audit", handler(audit_report)),
        Route("/signin", handler(signin)),
        Route("/signout", handler(logout)),
        Route("/static/signin.js", signin_js),
        Route("/openapi.json", openapi),
        Route("/api/status", handler(api_status)),
        Route("/api/passport/{battery_id}", handler(passport)),
        Route("/api/lots/{lot_id}", handler(lot)),
        Route("/api/units/{unit_id}", handler(unit)),
        Route("/api/provenance/{lot_id}", handler(provenance)),
        Route("/api/search", handler(search)),
        Route("/api/audit", handler(audit_report)),
        Route("/api/me", handler(me)),
        Route("/auth/nonce", handler(nonce)),
        Route("/auth/login", handler(login), methods=["POST"]),
        Route("/auth/logout", handler(logout), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(svc.follow()) if ledger is not None else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = svc
    app.add_middleware(Limits)
    return app


def serve(
    index: EventIndex,
    config: ServiceConfig | None = None,
    ledger: Ledger | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Run the passport service with uvicorn until Ctrl-C or SIGTERM, then return (loopback unless told otherwise).

    With `ledger`, the index follows the chain in the background and each page says which block it is current to.
    """
    import signal
    import threading

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(index, config, ledger),
            host=host,
            port=port,
            log_level="warning",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
    )
    if threading.current_thread() is not threading.main_thread():
        server.run()
        return
    # uvicorn stops gracefully on SIGINT and SIGTERM, then raises the signal again for the previous handler:
    # a no-op one makes a stop an ordinary return instead of a KeyboardInterrupt or a kill.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
