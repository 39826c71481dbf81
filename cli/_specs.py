"""Building the library's input records (LotSpec, Use, Composition) from command-line text and files."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ledger as rinne

from ._core import is_validation_error
from ._units import check_mass, element_name, parse_elements, parse_mass, parse_origin, parse_output, parse_recycled, parse_use

if TYPE_CHECKING:
    from ledger import Composition, Ledger, LotSpec, Use

ZERO32 = "0x" + "00" * 32


def bytes32(text: str, what: str = "id") -> str:
    """Return the bytes32 form of a label or 0x-hex id; ValueError with one line otherwise."""
    try:
        return rinne.to_bytes32(text)
    except ValueError as exc:
        raise ValueError(f"{what} {text!r}: {exc}") from None


def evidence(text: str | None) -> str:
    """Return a document's hash: keccak256 of a file's bytes when `text` names a file, else a 0x-hex hash.

    The library commits it salted (docs/confidentiality.md): the word on-chain is not this hash."""
    if not text:
        return ZERO32
    path = Path(text)
    if path.is_file():
        return "0x" + rinne.keccak(path.read_bytes()).hex()
    if text.startswith("0x"):
        return bytes32(text, "evidence")
    raise ValueError(f"evidence {text!r} is neither a file nor a 0x-prefixed 32-byte hash")


def origin(text: str | None) -> str:
    """Return the origin word from ``CC:site`` (or zero when absent)."""
    if not text:
        return ZERO32
    return _origin(text if isinstance(text, str) else str(text))


@functools.lru_cache(maxsize=4096)
def _origin(text: str) -> str:
    # A file's rows share a few sites: each is parsed and hashed once.
    country, site = parse_origin(text)
    return rinne.origin_code(country, site)


def composition(elements: str | Mapping[str, Any] | None, mass: int, pre: Any = None, post: Any = None) -> Composition:
    """Build a Composition from element text (``Ni=52%`` shares of `mass`) and recycled parts."""
    totals = _element_map(elements, mass) if elements else {}
    pre_g = _recycled_map(pre, totals) if pre else {}
    post_g = _recycled_map(post, totals) if post else {}
    for e in set(pre_g) & set(post_g):
        if pre_g[e] + post_g[e] > totals.get(e, 0):
            raise ValueError(f"recycled {e} (pre + post consumer) exceeds the lot's {e}")
    try:
        return rinne.Composition.of(totals, pre_g, post_g)
    except ValueError as exc:
        if not is_validation_error(exc):
            raise
        raise ValueError(rinne.first_problem(exc)) from None


def _element_map(value: str | Mapping[str, Any], mass: int) -> dict[str, int]:
    if isinstance(value, Mapping):
        text = ",".join(f"{k}={v}" for k, v in value.items())
        return parse_elements(text, mass)
    return parse_elements(str(value), mass)


def _recycled_map(value: Any, totals: dict[str, int]) -> dict[str, int]:
    if isinstance(value, Mapping):
        value = ",".join(f"{k}={v}" for k, v in value.items())
    return parse_recycled(str(value), totals)


def lot_spec(
    lot_id: str,
    material: str,
    mass: int,
    *,
    elements: Any = None,
    pre: Any = None,
    post: Any = None,
    origin_text: str | None = None,
    evidence_text: str | None = None,
    comp: Composition | None = None,
) -> LotSpec:
    """Build a LotSpec; ValueError with one line when anything does not fit."""
    if comp is None:
        comp = composition(elements, mass, pre, post)
    try:
        return rinne.LotSpec(
            lot_id=bytes32(lot_id, "lot id"),
            material=bytes32(material, "material"),
            mass=mass,
            composition=comp,
            origin=origin(origin_text),
            # The document's hash is committed salted, bound to the lot, by the library (its opening in the vault).
            document=evidence(evidence_text) if evidence_text else None,
        )
    except ValueError as exc:
        if not is_validation_error(exc):
            raise
        raise ValueError(f"lot {lot_id}: {rinne.first_problem(exc)}") from None


def uses(texts: Sequence[str]) -> list[Use]:
    """Turn ``LOT`` / ``LOT=MASS`` texts into Use records."""
    out = []
    for text in texts:
        lot_id, mass = parse_use(text)
        out.append(rinne.Use(lot_id=bytes32(lot_id, "lot id"), mass=mass))
    return out


def used_composition(ledger: Ledger, inputs: Iterable[Use]) -> Composition:
    """What the inputs give: the library's one rule (whole lots, or the pro-rata part of partial uses)."""
    return sum(ledger.compositions_of(list(inputs)), rinne.Composition())


def outputs(
    texts: Sequence[str], file: Path | None, *, inherit: Composition | None = None, pre: str | None = None, post: str | None = None
) -> list[LotSpec]:
    """Output lots from ``ID:MATERIAL:MASS[:ELEMENTS]`` texts and/or a lot file.

    A single output given without elements takes all of `inherit` (what the inputs give, recycled
    parts included); ELEMENTS "none" (or "-") means no tracked elements (slag, casing scrap);
    `pre` / `post` apply to a single output given with elements.
    """
    specs: list[LotSpec] = []
    parsed = [parse_output(t) for t in texts]
    if (pre or post) and (len(parsed) != 1 or file):
        raise ValueError("--recycled-pre/--recycled-post apply to a single --out; give recycled columns in --outputs FILE instead")
    for lot_id, material, mass, elements in parsed:
        if elements is None:
            if len(parsed) != 1 or file or inherit is None:
                raise ValueError(
                    f"output {lot_id}: give its elements (ID:MATERIAL:MASS:Ni=...,Co=..., or :none) when there are several outputs"
                )
            specs.append(lot_spec(lot_id, material, mass, comp=inherit))
        elif elements.lower() in ("none", "-"):
            specs.append(lot_spec(lot_id, material, mass, comp=rinne.Composition()))
        else:
            specs.append(lot_spec(lot_id, material, mass, elements=elements, pre=pre, post=post))
    if file is not None:
        specs.extend(read_lot_file(file))
    if not specs:
        raise ValueError("name at least one output with --out ID:MATERIAL:MASS[:ELEMENTS] or --outputs FILE")
    return specs


# ---------------------------------------------------------------------------------- lot files

_ALIASES = {
    "id": "lot_id",
    "lot": "lot_id",
    "lotid": "lot_id",
    "pre": "recycled_pre",
    "post": "recycled_post",
    "recycled_pre_consumer": "recycled_pre",
    "recycled_post_consumer": "recycled_post",
    "mass_g": "mass",
}
_KNOWN = {"lot_id", "material", "mass", "elements", "recycled_pre", "recycled_post", "origin", "evidence"}


@functools.lru_cache(maxsize=512)
def _column(name: str) -> tuple[str, str]:
    """What a file's column is: ("field", its key) or ("element", its symbol); ValueError for neither.

    A file repeats its columns on every row, so each is looked at once."""
    k = name.strip().lower().replace("-", "_").replace(" ", "_")
    k = _ALIASES.get(k, k)
    if k in _KNOWN:
        return "field", k
    try:
        return "element", element_name(name)
    except ValueError:
        raise ValueError(
            f"unknown column {name!r}; columns are {', '.join(sorted(_KNOWN))} or element symbols ({', '.join(rinne.ELEMENTS)})"
        ) from None


def _row_spec(row: Mapping[str, Any]) -> LotSpec:
    fields: dict[str, Any] = {}
    element_columns: dict[str, Any] = {}
    for raw_key, value in row.items():
        if raw_key is None:
            raise ValueError("more values than columns")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        kind, key = _column(str(raw_key))
        if kind == "field":
            fields[key] = value
        else:
            element_columns[key] = value
    for required in ("lot_id", "material", "mass"):
        if required not in fields:
            raise ValueError(f"{required} is missing")
    mass_value = fields["mass"]
    if isinstance(mass_value, bool) or not isinstance(mass_value, (int, str)):
        raise ValueError('mass: give grams as an integer or a text such as "12.5t"')
    mass = check_mass(mass_value) if isinstance(mass_value, int) else parse_mass(mass_value)
    elements = fields.get("elements")
    if element_columns:
        if elements:
            raise ValueError("give elements either in the elements column or in element columns, not both")
        elements = element_columns
    if isinstance(elements, Mapping):
        elements = {k: (str(v) if isinstance(v, int) and not isinstance(v, bool) else v) for k, v in elements.items()}
    return lot_spec(
        str(fields["lot_id"]),
        str(fields["material"]),
        mass,
        elements=elements,
        pre=fields.get("recycled_pre"),
        post=fields.get("recycled_post"),
        origin_text=fields.get("origin"),
        evidence_text=_evidence_field(fields.get("evidence")),
    )


#: A row's content (every column but the lot id) as a memo key: its (column, value) pairs.
_Content = tuple[tuple[str, "str | int | None"], ...]


def _memo_row_spec(row: Mapping[str, Any], memo: dict[_Content, LotSpec]) -> LotSpec:
    """`_row_spec`, validating each distinct row content once.

    Everything a LotSpec holds but its id (material, mass, composition, origin, evidence) is a function of the
    row's other columns, so rows that differ only in their lot id (a file of lots cut from one batch, or a
    re-run of a file) share one validated spec, copied with each row's own id (checked like any lot id).
    Rows whose values are not plain text or numbers (JSON objects), or that fail, take the whole path.
    """
    lot_value: Any = None
    content: list[tuple[str, str | int | None]] = []
    try:
        for raw_key, value in row.items():
            if raw_key is None or not (value is None or isinstance(value, (str, int))):
                return _row_spec(row)
            if _column(str(raw_key)) == ("field", "lot_id"):
                if lot_value is not None:
                    return _row_spec(row)  # two lot id columns: let the whole path judge
                lot_value = value
            else:
                content.append((raw_key, value))
    except ValueError:
        return _row_spec(row)  # an unknown column: the whole path names it
    if lot_value is None or (isinstance(lot_value, str) and not lot_value.strip()) or isinstance(lot_value, bool):
        return _row_spec(row)
    key = tuple(content)
    template = memo.get(key)
    if template is None:
        spec = _row_spec(row)
        memo[key] = spec
        return spec
    return template.model_copy(update={"lot_id": bytes32(str(lot_value), "lot id")})


def _evidence_field(value: Any) -> str | None:
    # In files, evidence is a hash (never a path: a file of lots should not depend on the working directory).
    if value is None:
        return None
    text = str(value).strip()
    if not text.startswith("0x"):
        raise ValueError(f"evidence {text!r}: give the document's 0x-prefixed 32-byte hash")
    return text


@dataclass
class LotFile:
    """A lot file read row by row: the lots that parse, and every problem with its file line or item."""

    name: str
    what: str  # "line" (CSV, JSON Lines) or "item" (JSON list)
    specs: list[LotSpec] = field(default_factory=list)
    places: list[int] = field(default_factory=list)  # the line or item of each spec
    problems: list[str] = field(default_factory=list)  # "line 3: ..." (without the file name)
    rows: int = 0


def load_lot_file(path: Path, fmt: str | None = None) -> LotFile:
    """Read lots from CSV (header row), JSON (a list, or {"lots": [...]}) or JSON Lines.

    Every bad row is a problem naming its line (CSV, JSON Lines) or item (JSON), and so is a lot id
    given twice (with both places); ValueError only when the file as a whole cannot be read.
    """
    name = str(path)
    if fmt is None:
        suffix = Path(name).suffix.lower()
        fmt = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(suffix)
        if fmt is None:
            raise ValueError(f"{name}: cannot tell the format from the name; pass --format csv, json or jsonl")
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not UTF-8 text") from None
    out = LotFile(name=name, what="item" if fmt == "json" else "line")
    rows: list[tuple[int, Any]]
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = [(reader.line_num, r) for r in reader]
    elif fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{name}: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if isinstance(data, Mapping) and "lots" in data:
            data = data["lots"]
        if not isinstance(data, list):
            raise ValueError(f'{name}: expected a JSON list of lots (or an object with a "lots" list)')
        rows = list(enumerate(data, 1))
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    out.problems.append(f"line {n}: not JSON: {exc.msg}")
                    out.rows += 1
    out.rows += len(rows)
    first: dict[str, int] = {}
    memo: dict[_Content, LotSpec] = {}
    for n, row in rows:
        if not isinstance(row, Mapping):
            out.problems.append(f"{out.what} {n}: expected an object with lot_id, material, mass")
            continue
        try:
            spec = _memo_row_spec(row, memo)
        except ValueError as exc:
            out.problems.append(f"{out.what} {n}: {exc}")
            continue
        key = spec.lot_id.lower()
        if key in first:
            out.problems.append(
                f"{out.what} {n}: the same lot id twice: {rinne.label_of(spec.lot_id)} is also {out.what} {first[key]}"
            )
            continue
        first[key] = n
        out.specs.append(spec)
        out.places.append(n)
    if not out.rows:
        raise ValueError(f"{name}: no lots in the file")
    return out


def read_lot_file(path: Path, fmt: str | None = None) -> list[LotSpec]:
    """Read lots from CSV (header row), JSON (a list, or {"lots": [...]}) or JSON Lines; ValueError names the first bad row."""
    loaded = load_lot_file(path, fmt)
    if loaded.problems:
        more = len(loaded.problems) - 1
        raise ValueError(f"{loaded.name}: {loaded.problems[0]}" + (f" (and {more} more problem(s))" if more else ""))
    return loaded.specs
