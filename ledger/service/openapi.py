"""The OpenAPI 3.1 description of the service's JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

_ID = {"in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$"}}
_TIER = {
    "name": "tier",
    "in": "query",
    "description": "answer at a lower tier than the reader's (a higher one is refused with 403)",
    "schema": {"enum": ["public", "legitimate-interest", "authority"]},
}
_ERROR = {
    "description": "one line saying what was wrong",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_JSON = {"application/json": {"schema": {"type": "object"}}}
_HEADERS = {
    "X-Rinne-Block": {"description": "the last block the answer is current to", "schema": {"type": "integer"}},
    "X-Rinne-Tier": {"description": "the Annex XIII tier the answer holds", "schema": {"type": "string"}},
}


def _get(summary: str, params: list[dict[str, Any]], content: dict[str, Any] | None = None, **errors: str) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": summary, "headers": _HEADERS, "content": content or _JSON}}
    for code, text in errors.items():
        responses[code.lstrip("e")] = {**_ERROR, "description": text}
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


def openapi_schema(server: str) -> dict[str, Any]:
    """Return the OpenAPI document of the JSON API served at `server`."""
    fmt = {
        "name": "format",
        "in": "query",
        "description": "data model (else chosen by Accept)",
        "schema": {"enum": ["batterypass", "idta", "pact", "html"]},
    }
    passport_content = {
        "application/vnd.rinne.batterypass+json": {"schema": {"type": "object"}},
        "application/vnd.rinne.idta-02035+json": {"schema": {"type": "object"}},
        "application/vnd.rinne.pact+json": {"schema": {"type": "object"}},
        "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}},
    }
    paths: dict[str, Any] = {
        "/api/status": _get("the block the service is current to, its chain and the reader's tier", []),
        "/passport/{battery_id}": _get(
            "a battery passport (the page its QR code opens); JSON by Accept or format",
            [{**_ID, "name": "battery_id"}, fmt, _TIER],
            passport_content,
            e400="bad id",
            e403="tier above the reader's",
            e404="no such battery",
            e406="unknown format",
            e409="ambiguous id",
            e410="recycled: the passport has ceased to exist",
        ),
        "/api/passport/{battery_id}": _get(
            "a battery passport as JSON (Battery Pass by default)",
            [{**_ID, "name": "battery_id"}, fmt, _TIER],
            passport_content,
            e404="no such battery",
        ),
        "/api/lots/{lot_id}": _get("a lot's record and history", [{**_ID, "name": "lot_id"}, _TIER], e404="no such lot"),
        "/api/units/{unit_id}": _get("a unit's structure", [{**_ID, "name": "unit_id"}, _TIER], e404="no such unit"),
        "/api/provenance/{lot_id}": _get(
            "the material graph around a lot",
            [{**_ID, "name": "lot_id"}, {"name": "direction", "in": "query", "schema": {"enum": ["up", "down", "both"]}}],
            e404="no such lot",
        ),
        "/api/search": _get(
            "lots and units by id, serial, material, origin (CC or CC:site) or holder",
            [
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 80}},
                {"name": "by", "in": "query", "schema": {"enum": ["id", "serial", "material", "origin", "holder"]}},
            ],
            e400="empty or too long",
        ),
        "/api/audit": _get("the latest audit report and the block it covers", [], e503="no chain to audit, or not yet run"),
        "/api/me": _get("the signed-in account and its tier", []),
        "/auth/nonce": _get(
            "a single-use nonce and the EIP-4361 message to sign for an address",
            [{"name": "address", "in": "query", "required": True, "schema": {"type": "string"}}],
            e400="not an address",
            e429="this peer address holds as many unused nonces as it may",
        ),
        "/auth/login": {
            "post": {
                "summary": "sign in: an EIP-4361 message and its personal_sign signature; sets the session cookie",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignIn"}}},
                },
                "responses": {
                    "200": {"description": "signed in", "content": _JSON},
                    "400": _ERROR,
                    "401": {**_ERROR, "description": "bad, stale, replayed or foreign message or signature"},
                    "403": {**_ERROR, "description": "unregistered, suspended, or no role above public"},
                    "413": _ERROR,
                },
            }
        },
        "/auth/logout": {"post": {"summary": "end the session", "responses": {"200": {"description": "signed out"}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rinne passport service", "version": "1", "description": "Read-only battery passports by Annex XIII tier."},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "SignIn": {
                    "type": "object",
                    "properties": {"message": {"type": "string", "maxLength": 4096}, "signature": {"type": "string"}},
                    "required": ["message", "signature"],
                },
            },
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "rinne_session"}},
        },
        "security": [{}, {"session": []}],
    }
