"""What the passport schema tests share: where the standards folder is, and turning an upstream example
payload into an operator's declarations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def standards(folder: str) -> Path:
    """A folder of the shared standards: $RINNE_STANDARDS, ../shared/standards beside the repository, or the
    workplace's /work/shared/standards (a clean clone elsewhere still finds it)."""
    candidates = [Path(p) for p in (os.environ.get("RINNE_STANDARDS"),) if p]
    candidates += [Path(__file__).resolve().parents[2].parent / "shared" / "standards", Path("/work/shared/standards")]
    return next((c for c in candidates if (c / folder).is_dir()), candidates[0]) / folder


def strip_held(example: Any, held: Any) -> Any:
    """The example payload without what the ledger holds (those come from the ledger, not a declaration)."""
    if not isinstance(example, dict) or not isinstance(held, dict):
        return example
    out = {}
    for k, v in example.items():
        if k not in held:
            out[k] = v
        elif isinstance(v, dict) and isinstance(held[k], dict):
            rest = strip_held(v, held[k])
            if rest:  # a member the ledger fills completely is not declared at all
                out[k] = rest
    return out
