"""Reading the user's object files: one reader for `score --input`, `--seed-molecules` and `fragments build`.

A file is a CSV (a ``.csv`` name, or a first line with a comma) whose column holds the objects, or a
text file with one object per line: the first whitespace-separated field (``.smi`` files put a name
after the SMILES), blank lines and ``#`` comments skipped, a first line reading ``smiles`` taken as a
header. Every problem is one ``InputError`` naming the flag, the file and what to do.
"""

from __future__ import annotations

import io
from pathlib import Path

from .errors import InputError


def read_objects(path: str | Path, column: str | None = None, default_column: str = "smiles", flag: str = "--input",
                 require_column: bool = False) -> tuple[list[str], int]:
    """(objects, file line of the first one). In a CSV: ``column``, else ``default_column`` (any case), else
    the first column; with ``require_column`` a CSV without ``default_column`` is refused."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{flag} {path} does not exist")
    if path.is_dir():
        raise InputError(f"{flag} {path} is a folder; give a text file (one object per line) or a CSV")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {flag} {path}: {e.strerror or e}") from None
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL bytes")
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{flag} {path} is not UTF-8 text (binary, or UTF-16?); save it as UTF-8 text, "
                         "one object per line or a CSV") from None
    lines = [ln.strip() for ln in text.splitlines()]
    first = next((ln for ln in lines if ln), "")
    if "," in first or path.suffix.lower() == ".csv":
        objs = _csv_column(text, path, column, default_column, flag, require_column)
        return objs, 2  # the header is line 1
    objs = [ln.split()[0] for ln in lines if ln and not ln.startswith("#")]
    offset = 1
    if objs and objs[0].lower() == default_column.lower():
        objs, offset = objs[1:], 2
    return objs, offset


def _csv_column(text: str, path: Path, column: str | None, default_column: str, flag: str,
                require_column: bool) -> list[str]:
    import pandas as pd

    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InputError(f"{flag} {path} is not a readable CSV: {str(e).strip()[:120]}") from None
    by_lower = {str(c).strip().lower(): c for c in df.columns}
    col = column or by_lower.get(default_column.lower())
    if col is None:
        if require_column or not len(df.columns):
            raise InputError(f"{flag} {path}: a CSV needs a {default_column!r} column; its columns: "
                             f"{', '.join(map(str, df.columns))}")
        col = df.columns[0]
    if col not in df.columns:
        raise InputError(f"column {col!r} not in {path}; columns: {', '.join(map(str, df.columns))}")
    return [s.strip() for s in df[col].tolist()]  # empty cells kept: row numbers stay the file's
