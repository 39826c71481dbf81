"""Bad input told in one line: the first problem pydantic found, where it is and what is wrong.

The library, its files and the command line all report invalid records this way, so a user sees
the same sentence whether a lot spec came from Python, a CSV row or an attestation file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


def first_problem(exc: ValidationError, path: Callable[[Sequence[str]], Sequence[str]] | None = None) -> str:
    """The first problem of a pydantic ValidationError on one line, "where: what".

    `path` may rename the location's parts (e.g. model fields to the JSON names of a file).
    """
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    where = ".".join(path(loc) if path else loc)
    msg = " ".join(part.strip() for part in first["msg"].removeprefix("Value error, ").splitlines() if part.strip())
    return f"{where}: {msg}" if where else msg
