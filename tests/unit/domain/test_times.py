"""Times: held as Unix seconds, shown as ISO 8601 UTC (docs/json.md), read back from either."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from ledger.domain.times import UnixTime, iso_time


class _Stamped(BaseModel):
    at: UnixTime


def test_iso_time_is_utc_to_the_second() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00Z"
    assert iso_time(1_801_353_600) == "2027-01-31T00:00:00Z"
    assert iso_time(None) is None


def test_a_unix_time_field_is_an_int_in_python_and_iso_in_json() -> None:
    s = _Stamped(at=1_801_396_800)
    assert s.at == 1_801_396_800 and s.model_dump() == {"at": 1_801_396_800}
    assert s.model_dump(mode="json") == {"at": "2027-01-31T12:00:00Z"}
    # The JSON form reads back to the same second, and so does an offset or a zone-less time (taken as UTC).
    assert _Stamped.model_validate_json(s.model_dump_json()).at == s.at
    assert _Stamped(at="2027-01-31T13:00:00+01:00").at == s.at  # type: ignore[arg-type]
    assert _Stamped(at="2027-01-31T12:00:00").at == s.at  # type: ignore[arg-type]


def test_a_time_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        _Stamped(at="next tuesday")  # type: ignore[arg-type]
