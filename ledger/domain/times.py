"""Times as the ledger keeps them (Unix seconds, the block's clock) and as every output shows them (ISO 8601 UTC)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


def iso_time(ts: int | None) -> str | None:
    """A Unix time as the ISO 8601 UTC text every output uses, ``2027-01-31T12:00:00Z`` (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_time(value: Any) -> Any:
    """An ISO 8601 time (with a zone, or taken as UTC) as Unix seconds; anything else is left to the field's type."""
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return int((t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp())
    return value


#: A Unix time held as an int and written as ISO 8601 UTC in JSON (read back from either): the one place
#: the style of docs/json.md ("ISO 8601 UTC times") is applied to the library's records.
UnixTime = Annotated[int, BeforeValidator(unix_time), PlainSerializer(iso_time, return_type=str, when_used="json")]
