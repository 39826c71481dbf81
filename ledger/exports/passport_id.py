"""The battery's unique identifier in the ISO/IEC 15459 structure and the passport URL built from it
(EU 2023/1542 Art. 77(3): a unique identifier complying with ISO/IEC 15459:2015 or equivalent, to which the
QR code giving access to the passport is linked; Art. 3(66)).

ISO/IEC 15459 builds a unique identifier from the code of an Issuing Agency registered under ISO/IEC 15459-2
(e.g. ``UN`` for Dun & Bradstreet, ``LH`` for HIBC), the company identification number that agency gave the
economic operator, and a serial the operator makes unique within its company number. None of the three is on
the ledger except the serial's hash, so the agency code and company number are declared, and a declared
serial is accepted only when it hashes to the unit's on-chain serial commitment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from ledger import errors

# Upper-case alphanumerics plus the few separators 15459 identifiers use in practice; the whole identifier
# (agency code + company number + serial) stays within 50 characters (ISO/IEC 15459-1 length limit).
_IAC = re.compile(r"^[A-Z0-9]{1,3}$")
_CIN = re.compile(r"^[A-Z0-9]{1,35}$")
_SERIAL = re.compile(r"^[A-Z0-9][A-Z0-9./-]*$")
MAX_LENGTH = 50
#: ANSI MH10.8.2 data identifier for "IAC + CIN + serial" when the identifier is carried in a symbol.
DATA_IDENTIFIER = "25S"


@dataclass(frozen=True)
class UniqueIdentifier:
    """An ISO/IEC 15459 unique item identifier."""

    issuing_agency_code: str
    company_identifier: str
    serial: str

    @property
    def text(self) -> str:
        """The identifier itself: agency code, company number and serial, concatenated."""
        return self.issuing_agency_code + self.company_identifier + self.serial

    @property
    def symbol_data(self) -> str:
        """The identifier as encoded in a 2D symbol with its MH10.8.2 data identifier."""
        return DATA_IDENTIFIER + self.text


def unique_identifier(issuing_agency_code: str, company_identifier: str, serial: str) -> UniqueIdentifier:
    """Build and check an ISO/IEC 15459 identifier (upper-cased; at most 50 characters)."""
    iac, cin, sn = issuing_agency_code.strip().upper(), company_identifier.strip().upper(), serial.strip().upper()
    if not _IAC.match(iac):
        raise errors.InvalidInput(f"issuing agency code {issuing_agency_code!r}: 1-3 letters or digits (ISO/IEC 15459-2 register)")
    if not _CIN.match(cin):
        raise errors.InvalidInput(f"company identifier {company_identifier!r}: letters and digits only")
    if not _SERIAL.match(sn):
        raise errors.InvalidInput(f"serial {serial!r}: letters, digits and . / - only")
    uid = UniqueIdentifier(iac, cin, sn)
    if len(uid.text) > MAX_LENGTH:
        raise errors.InvalidInput(f"unique identifier {uid.text} is longer than {MAX_LENGTH} characters (ISO/IEC 15459-1)")
    return uid


def passport_url(base_url: str, uid: UniqueIdentifier) -> str:
    """The passport's web address for the QR code: ``<base>/<identifier>`` (https only, so the link is not spoofable in transit)."""
    base = base_url.rstrip("/")
    if not base.startswith("https://"):
        raise errors.InvalidInput(f"passport base URL {base_url!r} must be https")
    return f"{base}/{quote(uid.text, safe='')}"
