"""The score store: every oracle result, persisted in SQLite as soon as it arrives.

One row per (object, oracle, settings): the object key (canonical SMILES or sequence), the
oracle's name and a hash of its settings, the raw score (NULL when it failed), the error,
the wall time of the call and a timestamp. Only the driver process writes (workers, local
or on a cluster, send their results back), in WAL mode with one transaction per chunk of
results, so a ``kill -9`` at any moment loses no committed score and the file never sits
under concurrent writers. Readers (``molgfn scores``) may open it while a run writes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..runs import STORE
from .contract import Outcome

STORE_FILE = STORE  # in the run folder, unless --score-store names another

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    object TEXT NOT NULL,
    oracle TEXT NOT NULL,
    settings TEXT NOT NULL,
    raw_score REAL,
    error TEXT,
    invalid INTEGER NOT NULL DEFAULT 0,
    wall_s REAL,
    created REAL NOT NULL,
    PRIMARY KEY (object, oracle, settings)
) WITHOUT ROWID
"""


class ScoreStore:
    """SQLite store of oracle results for one oracle (name + settings hash)."""

    def __init__(self, path: str | Path, oracle: str, settings: str) -> None:
        self.path, self.oracle, self.settings = Path(path), oracle, settings
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise InputError(f"cannot open the score store {self.path}: {e}; pass --score-store with a "
                             "writable file path (an SQLite database)") from e

    @contextlib.contextmanager
    def _connect(self):
        # one short connection per operation: between operations nothing is open, so the folder
        # holds just the database (SQLite folds its WAL back in when the last connection closes)
        db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process (only an OS
            # crash or power loss may roll back the last ones)
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    def get(self, objects: Iterable[str]) -> dict[str, Outcome]:
        """Stored outcomes of those objects that have one."""
        objs = list(dict.fromkeys(objects))
        found: dict[str, Outcome] = {}
        for i in range(0, len(objs), 500):  # SQLite's limit on bound parameters
            part = objs[i : i + 500]
            q = ("SELECT object, raw_score, error, invalid, wall_s FROM scores WHERE oracle = ? AND settings = ? "
                 f"AND object IN ({','.join('?' * len(part))})")
            with self._connect() as db:
                for o, raw, err, inv, wall in db.execute(q, [self.oracle, self.settings, *part]):
                    found[o] = Outcome(raw, err, wall or 0.0, bool(inv))
        return found

    def put(self, items: Iterable[tuple[str, Outcome]]) -> None:
        """Write results in one transaction (committed before this returns)."""
        now = time.time()
        rows = [(o, self.oracle, self.settings, r.value, r.error, int(r.invalid), r.wall_s, now) for o, r in items]
        if not rows:
            return
        with self._connect() as db:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM scores WHERE oracle = ? AND settings = ?",
                              (self.oracle, self.settings)).fetchone()[0]


def read_store(path: str | Path):
    """Every row of a store as a DataFrame (for export: ``molgfn scores``)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise InputError(f"score store {path} does not exist; it is written by runs as RUN/{STORE_FILE} "
                         "or where --score-store pointed")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            df = pd.read_sql_query("SELECT * FROM scores ORDER BY created, object", db)
        finally:
            db.close()
    except (sqlite3.Error, pd.errors.DatabaseError) as e:
        raise InputError(f"{path} is not a molgfn score store: {e}") from e
    df["created"] = pd.to_datetime(df["created"], unit="s", utc=True)
    df["invalid"] = df["invalid"].astype(bool)
    return df
