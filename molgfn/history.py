"""What a run has seen, kept append-only: every object evaluated in training, and the metrics rows.

A checkpoint must not rewrite everything ever seen (that makes its cost grow with the run),
so the two things that grow are files the trainer appends to once per round:

- ``seen.jsonl``: one JSON line per round with the objects evaluated (string, raw score,
  log R), the modes among them, and the new objects entering the replay buffer (their state
  tensors and log R as stored). Replaying the lines in order rebuilds ``SeenStats``, the
  modes found and the replay buffer exactly (Python writes floats as the shortest string
  that reads back to the same double). Buffered: its lines reach the OS at the next checkpoint.
- ``metrics.csv``: one row per round, flushed every round.

The checkpoint records how many bytes of each were written when it was taken; loading reads
only that much, and a resumed run first truncates whatever was appended after the last
checkpoint, so ``--resume`` stays exact after a crash at any moment.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RunFileError
from .runs import SEEN_LOG

__all__ = ["SEEN_LOG", "SeenStats", "AppendLog", "MetricsLog", "read_seen", "read_metrics"]


@dataclass
class SeenStats:
    """Every object evaluated during training: times sampled, first round, raw score, log R."""

    count: dict[str, int] = field(default_factory=dict)
    first_round: dict[str, int] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)
    log_reward: dict[str, float] = field(default_factory=dict)

    def update(self, objs: list[str], raw: list[float], logr: list[float], rnd: int) -> list[bool]:
        new = []
        for o, r, lr in zip(objs, raw, logr, strict=True):
            c = self.count.get(o)
            if c is None:
                self.count[o] = 1
                self.first_round[o] = rnd
                self.raw[o] = r
                self.log_reward[o] = lr
                new.append(True)
            else:
                self.count[o] = c + 1
                new.append(False)
        return new


def _damaged(path: Path, what: str) -> RunFileError:
    return RunFileError(f"{path} is damaged ({what}); restore it from a backup, or start the run again "
                        "with --overwrite")


def read_lines(path: Path, nbytes: int) -> list[bytes]:
    """The first ``nbytes`` bytes of an append-only file, as complete lines."""
    if nbytes == 0:
        return []
    try:
        with open(path, "rb") as f:
            data = f.read(nbytes)
    except FileNotFoundError:
        raise _damaged(path, "missing, but the checkpoint refers to it") from None
    if len(data) < nbytes or not data.endswith(b"\n"):
        raise _damaged(path, f"shorter than the {nbytes} bytes the checkpoint recorded")
    return data.splitlines()


def read_seen(path: Path, nbytes: int) -> list[dict]:
    out = []
    for i, line in enumerate(read_lines(path, nbytes)):
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise _damaged(path, f"line {i + 1}: {e}") from None
        if not isinstance(rec, dict):
            raise _damaged(path, f"line {i + 1} is not a record")
        out.append(rec)
    return out


def _cell(v: str):
    if v == "":
        return math.nan
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            continue
    return v


def read_metrics(path: Path, nbytes: int) -> list[dict]:
    lines = read_lines(path, nbytes)
    try:
        rows = list(csv.DictReader(io.StringIO(b"\n".join(lines).decode())))
    except (UnicodeDecodeError, csv.Error) as e:
        raise _damaged(path, str(e)) from None
    return [{k: _cell(v) for k, v in r.items()} for r in rows]


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)  # an empty cell reads back as NaN (``_cell``)
    return str(v)


def _named(e: OSError, path: Path) -> OSError:
    from .paths import with_path

    return with_path(e, path)


class AppendLog:
    """An append-only file: opened at a recorded length (anything after it is cut), fsynced
    before a checkpoint records its length. ``flush_each``: each write reaches the OS at once
    (for a file people watch during a run); otherwise writes are buffered until the next sync,
    as nothing reads past the checkpoint's length anyway."""

    def __init__(self, path: Path, offset: int, flush_each: bool = True) -> None:
        self.path = path
        self.flush_each = flush_each
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        os.ftruncate(fd, offset)
        self.f = os.fdopen(fd, "ab")

    def write(self, data: bytes) -> None:
        try:
            self.f.write(data)
            if self.flush_each:
                self.f.flush()
        except OSError as e:  # a full disk: the error names this file (a write through a descriptor names none)
            raise _named(e, self.path) from None

    def sync(self) -> int:
        try:
            self.f.flush()
            # fdatasync: the bytes and the file's new length reach the disk (all a reader of the first
            # n bytes needs), without the extra metadata write of fsync; macOS has only fsync
            getattr(os, "fdatasync", os.fsync)(self.f.fileno())
        except OSError as e:
            raise _named(e, self.path) from None
        return self.f.tell()

    def close(self) -> None:
        self.f.close()


class MetricsLog(AppendLog):
    """metrics.csv, one row per round; a row with new columns rewrites the file once."""

    def __init__(self, path: Path, offset: int, rows: list[dict]) -> None:
        super().__init__(path, offset)
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, lineterminator="\n")  # one writer, reused: a row per round
        self.header: list[str] | None = list(rows[0]) if rows and offset else None

    def append(self, row: dict, all_rows: list[dict]) -> None:
        if self.header is None or list(row) != self.header:
            if self.header is not None:  # new columns: rewrite (rare) with the union of keys
                cols = list(dict.fromkeys(k for r in all_rows for k in r))
                self.f.truncate(0)
                self.f.seek(0)
                self.header = cols
                self.f.write(self._line(cols))
                for r in all_rows[:-1]:
                    self.f.write(self._line([_fmt(r.get(c, "")) for c in cols]))
            else:
                self.header = list(row)
                self.f.write(self._line(self.header))
        self.write(self._line([_fmt(row.get(c, "")) for c in self.header]))

    def _line(self, cells: list[str]) -> bytes:
        self._buf.seek(0)
        self._buf.truncate()
        self._writer.writerow(cells)
        return self._buf.getvalue().encode()


def legacy_snapshot(seen, modes_found: set, buffer) -> bytes:
    """The seen log of a checkpoint from before append-only logs, as one replayable snapshot: each
    object once per time it was sampled, at its first round, the buffer in its stored order."""
    lines = []
    n = buffer.size
    for o, c in seen.count.items():
        lines.append({"r": seen.first_round[o], "objs": [o] * c, "raw": [seen.raw[o]] * c,
                      "logr": [seen.log_reward[o]] * c, "modes": [], "new": [], "new_logr": []})
    if lines:
        lines[0]["modes"] = sorted(modes_found)
        lines[0]["new"] = buffer.objects[:n].cpu().tolist()
        lines[0]["new_logr"] = buffer.log_reward[:n].cpu().tolist()
    return b"".join((json.dumps(x, separators=(",", ":")) + "\n").encode() for x in lines)
