"""The score store: every oracle result, persisted in SQLite as soon as it arrives.

One row per (object, oracle, settings): the object key (canonical SMILES or sequence), the
oracle's name and its identity (``settings``: ``SETTINGS:CODE``, a hash of its name and settings
and a hash of its code, see ``cached.code_identity``), the raw score (NULL when it failed), the
error, the wall time of the call, a timestamp, for a multi-objective oracle its objective
vector (``objectives``, JSON; raw_score NULL), and what an oracle made beside its score
(``extra``, text: a docking oracle's best pose as an SD mol block; see ``contract.Scored``).
A row is reused only for the same name, settings and code, unless the user lets scores be
reused across code versions (``any_code``). Stores of molgfn versions without the code hash
(``settings`` without ``:CODE``) stay readable: their rows count as another code version, and
gain the ``objectives`` and ``extra`` columns when a run opens them. Only
the driver process writes (workers, local or on a cluster, send their results back), in WAL
mode with one transaction per chunk of results, so a ``kill -9`` at any moment loses no
committed score and the file never sits under concurrent writers. Readers (``molgfn scores``)
may open it while a run writes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..runs import STORE
from .contract import Outcome

STORE_FILE = STORE  # in the run folder, unless --score-store names another
LOCK_TIMEOUT_S = 30.0  # how long a write waits for another process that holds the store


class ScoreStoreError(InputError):
    """The score store cannot be read or written (locked by another run, damaged, read-only)."""


def store_error(path: Path, e: BaseException) -> ScoreStoreError:
    text = str(e) or type(e).__name__
    if "locked" in text or "busy" in text:
        what = ("another process holds it (another molgfn run or a program reading it): wait until it "
                "finishes, or pass --score-store with another file")
    else:
        what = "check that it is a writable molgfn score store, or pass --score-store with another file"
    return ScoreStoreError(f"score store {path}: {text}; {what}")

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
    """SQLite store of oracle results for one oracle (name + settings hash + code hash).

    ``code`` names the oracle's code version (a hash of its module's source, or the version
    its author gave); ``any_code`` also serves rows of other code versions (the current one
    first, else the newest): the user said the scores do not depend on the code's edits."""

    def __init__(self, path: str | Path, oracle: str, settings: str, code: str = "", any_code: bool = False) -> None:
        self.path, self.oracle, self.base, self.any_code = Path(path), oracle, settings, any_code
        self.settings = f"{settings}:{code}" if code else settings
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(_SCHEMA)
                self._vectors_col, self._extra_col = "objectives", "extra"
                have = {row[1] for row in db.execute("PRAGMA table_info(scores)")}
                for col in ("objectives", "extra"):
                    if col in have:
                        continue
                    try:  # a store of an older molgfn gains the column (older molgfns still read it)
                        db.execute(f"ALTER TABLE scores ADD COLUMN {col} TEXT")
                    except sqlite3.OperationalError:  # read-only or full: still readable, without it
                        if col == "objectives":
                            self._vectors_col = "NULL"
                        else:
                            self._extra_col = "NULL"
        except (OSError, sqlite3.Error) as e:
            raise ScoreStoreError(f"cannot open the score store {self.path}: {e}; pass --score-store with a "
                                  "writable file path (an SQLite database)") from None

    @contextlib.contextmanager
    def _connect(self):
        # one short connection per operation: between operations nothing is open, so the folder
        # holds just the database (SQLite folds its WAL back in when the last connection closes)
        db = sqlite3.connect(str(self.path), timeout=LOCK_TIMEOUT_S, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process (only an OS
            # crash or power loss may roll back the last ones)
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    def _match(self) -> tuple[str, list[str]]:
        """The WHERE clause (and its parameters) of this oracle's rows."""
        if not self.any_code:
            return "oracle = ? AND settings = ?", [self.oracle, self.settings]
        # any code version of these settings: SETTINGS itself (an older molgfn) or SETTINGS:CODE
        return ("oracle = ? AND (settings = ? OR substr(settings, 1, ?) = ?)",
                [self.oracle, self.base, len(self.base) + 1, self.base + ":"])

    def get(self, objects: Iterable[str]) -> dict[str, Outcome]:
        """Stored outcomes of those objects that have one."""
        objs = list(dict.fromkeys(objects))
        found: dict[str, Outcome] = {}
        best: dict[str, tuple] = {}
        where, params = self._match()
        try:
            for i in range(0, len(objs), 500):  # SQLite's limit on bound parameters
                part = objs[i : i + 500]
                q = (f"SELECT object, raw_score, error, invalid, wall_s, {self._vectors_col}, settings, created, "
                     f"{self._extra_col} "
                     "FROM scores "
                     f"WHERE {where} AND object IN ({','.join('?' * len(part))})")
                with self._connect() as db:
                    for o, raw, err, inv, wall, vec, settings, created, extra in db.execute(q, [*params, *part]):
                        rank = (settings == self.settings, created or 0.0)  # this code version, else the newest
                        if o in best and best[o] >= rank:
                            continue
                        best[o] = rank
                        value = tuple(json.loads(vec)) if vec is not None else raw
                        found[o] = Outcome(value, err, wall or 0.0, bool(inv), extra=extra)
        except (sqlite3.Error, ValueError) as e:
            raise store_error(self.path, e) from None
        return found

    def put(self, items: Iterable[tuple[str, Outcome]]) -> None:
        """Write results in one transaction (committed before this returns)."""
        now = time.time()
        rows = []
        for o, r in items:
            vec = json.dumps(list(r.value)) if isinstance(r.value, tuple) else None
            raw = None if vec is not None else r.value
            rows.append((o, self.oracle, self.settings, raw, r.error, int(r.invalid), r.wall_s, now, vec, r.extra))
        if not rows:
            return
        try:
            with self._connect() as db:
                db.execute("BEGIN")
                db.executemany("INSERT OR REPLACE INTO scores (object, oracle, settings, raw_score, error, invalid, "
                               "wall_s, created, objectives, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                db.execute("COMMIT")
        except sqlite3.Error as e:
            raise store_error(self.path, e) from None

    def __len__(self) -> int:
        try:
            with self._connect() as db:
                return db.execute("SELECT COUNT(*) FROM scores WHERE oracle = ? AND settings = ?",
                                  (self.oracle, self.settings)).fetchone()[0]
        except sqlite3.Error as e:
            raise store_error(self.path, e) from None


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
