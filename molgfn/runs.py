"""Run directories: file names, atomic writers, loading a checkpoint safely, and owning a run
folder (``prepare_run_dir``, for the CLI and the API alike: a lock held for the life of the
process; folders that are not runs refused; --overwrite that removes only run files; stale temp
files of interrupted atomic writes cleaned)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import TEMP_MARK, atomic_torch_save, atomic_write_bytes, atomic_write_text
from .errors import InputError, RunFileError, RunLockedError

if TYPE_CHECKING:  # pandas costs ~0.5 s to import; a training run of a sequence task never needs it
    import pandas as pd

CONFIG = "config.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
CANDIDATES = "candidates.csv"
SEEN_LOG = "seen.jsonl"
EVALUATION = "evaluation.json"
LOCK = ".molgfn.lock"
ERROR_LOG = "molgfn-error.log"
# every file molgfn writes into a run folder: the only ones --overwrite removes
# the oracle's score store (molgfn.oracle) is molgfn's too, but --overwrite keeps it: its scores
# are keyed by oracle and settings, so a new run reuses them instead of paying for them again
STORE = "scores.sqlite"
KEPT_FILES = (STORE, STORE + "-wal", STORE + "-shm")
# what a folder may hold before its first round: a run that stopped there can simply start again
PRE_RUN_FILES = (LOCK, *KEPT_FILES)
RUN_FILES = (CONFIG, METRICS, CHECKPOINT, CANDIDATES, SEEN_LOG, EVALUATION, ERROR_LOG,
             "training_curves.png", "top_molecules.png", "report.html", "candidates.sdf", "candidates.parquet")
# temp files of our atomic writes: ".NAME.<mkstemp suffix>.tmp" (older molgfn) or ".NAME.molgfn.<...>.tmp"
_TEMP = re.compile(r"^\.(" + "|".join(re.escape(n) for n in RUN_FILES) + r")\.(" + re.escape(TEMP_MARK)
                   + r")?[A-Za-z0-9_]{8}\.tmp$")

__all__ = ["CONFIG", "METRICS", "CHECKPOINT", "CANDIDATES", "atomic_write_csv", "atomic_torch_save",
           "atomic_write_bytes", "atomic_write_text", "prepare_run_dir"]


def atomic_write_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def load_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, or a one-line error naming the file.

    ``weights_only``: a checkpoint holds tensors and plain containers only, so a run folder
    from someone else cannot run code; everything lands on the CPU and is moved by its owner."""
    import pickle

    import torch

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" in str(e) or "Unsupported global" in str(e):  # an object to import: code, refused
            raise RunFileError(f"{path} was refused: it holds Python objects, not just tensors, so it is not a "
                               "molgfn checkpoint and loading it could run code; do not use this run folder "
                               "unless you know where it came from") from None
        raise RunFileError(f"{path} is damaged or not a molgfn checkpoint (unreadable pickle); restore it from "
                           "a backup, or start the run again with --overwrite") from None
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated zip, garbage bytes, wrong format: torch raises many kinds
        raise RunFileError(f"{path} is damaged or not a molgfn checkpoint ({type(e).__name__}); restore it "
                           "from a backup, or start the run again with --overwrite") from None
    need = ("round", "reward_calls", "policy", "opt", "rng")
    if not isinstance(sd, dict) or any(k not in sd for k in need):
        raise RunFileError(f"{path} is not a molgfn checkpoint (keys missing); restore it from a backup, or "
                           "start the run again with --overwrite")
    return sd


# ---- owning a run folder -----------------------------------------------------------------
def _our_config(path: Path) -> bool:
    """config.json parses as molgfn's run configuration (its schema, not just its name)."""
    try:
        cfg = json.loads((Path(path) / CONFIG).read_bytes().decode())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return (isinstance(cfg, dict) and {"task", "objective", "batch_size", "beta_dist"} <= set(cfg)
            and isinstance(cfg["task"], str) and isinstance(cfg["objective"], str)
            and isinstance(cfg["batch_size"], int) and not isinstance(cfg["batch_size"], bool))


def _ours_by_name(name: str) -> bool:
    return name in RUN_FILES or name in PRE_RUN_FILES or bool(_TEMP.match(name))


def is_run_dir(path: Path) -> bool:
    """A molgfn run, recognised by the files molgfn writes together: a config.json with molgfn's
    schema and a checkpoint, or (a run stopped before its first checkpoint) that config.json with
    nothing but files of molgfn's names. One file name (a lock, a log) is never enough: this is
    what lets --overwrite remove files."""
    path = Path(path)
    if not _our_config(path):
        return False
    if (path / CHECKPOINT).is_file():
        return True
    try:
        return all(_ours_by_name(p.name) for p in path.iterdir())
    except OSError:
        return False


def looks_like_run(path: Path) -> bool:
    """Any sign of a molgfn run (a lock, a log, a checkpoint, a store or our config.json): the
    generous test that keeps outputs off a run's files (``molgfn.paths``), never one to delete by."""
    path = Path(path)
    return any((path / n).exists() for n in (LOCK, SEEN_LOG, CHECKPOINT, STORE)) or _our_config(path)


def foreign_files(path: Path) -> list[str]:
    """Names in a run folder that molgfn did not write."""
    return sorted(p.name for p in Path(path).iterdir()
                  if p.name not in RUN_FILES and p.name not in PRE_RUN_FILES and not _TEMP.match(p.name))


def clean_stale_temps(path: Path) -> list[str]:
    """Remove temp files left by interrupted atomic writes (only names matching our own pattern).
    Call while holding the run's lock, so no live writer's temp file is touched."""
    removed = []
    for p in Path(path).iterdir():
        if _TEMP.match(p.name) and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p.name)
    return sorted(removed)


def remove_run_files(path: Path) -> list[str]:
    """--overwrite: remove only the files molgfn writes into a run; keep everything else."""
    removed = []
    for name in RUN_FILES:
        p = Path(path) / name
        if p.is_file() or p.is_symlink():
            p.unlink()
            removed.append(name)
    return removed + clean_stale_temps(path)


_held: dict[str, int] = {}  # run folder -> file descriptor of its lock, held until the process exits


def lock_run_dir(path: Path) -> None:
    """Take an OS lock (flock) on the run folder for the life of the process; refuse a second writer
    with the holder's PID."""
    import fcntl

    key = str(Path(path).resolve())
    if key in _held:
        return
    lock = Path(path) / LOCK
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise InputError(f"cannot write to run directory {path}: {e.strerror}; choose another --out") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        finally:
            os.close(fd)
        raise RunLockedError(f"run directory {path} is in use by another molgfn process (PID {holder}); wait for "
                             "it to finish or stop it, or choose another --out") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held[key] = fd


def unlock_run_dir(path: Path) -> None:
    fd = _held.pop(str(Path(path).resolve()), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


def unlock_all() -> None:
    """Release every run-folder lock this process holds (the end of a command run in-process)."""
    for key in list(_held):
        os.close(_held.pop(key))


# how the caller spells the three settings in a message: the CLI's flags, or the API's keywords
CLI_NAMES = {"out": "--out", "resume": "--resume", "overwrite": "--overwrite"}
API_NAMES = {"out": "out", "resume": "resume=True", "overwrite": "overwrite=True"}


def prepare_run_dir(out: Path, resume: bool = False, overwrite: bool = False, dry_run: bool = False,
                    names: dict[str, str] = CLI_NAMES) -> list[str]:
    """Check a run folder for a new run, a resumed one (``resume``) or a restarted one
    (``overwrite``); ``dry_run`` stops after the checks. Then own it: create it, lock it for the life
    of the process, remove stale temp files of interrupted writes, and with ``overwrite`` remove the
    previous run's files (never anything else). A folder that is not a molgfn run is never written
    into. Returns notes for the user (what was cleaned or kept)."""
    from .paths import input_error

    try:
        return _prepare_run_dir(Path(out), resume, overwrite, dry_run, names)
    except OSError as e:  # a name too long, a read-only or full disk, no permission: one line naming it
        raise input_error(e, f"cannot use {names['out']}") from None


def _prepare_run_dir(out: Path, resume: bool, overwrite: bool, dry_run: bool, names: dict[str, str]) -> list[str]:
    from .paths import input_error

    o, r, w = names["out"], names["resume"], names["overwrite"]
    if out.exists() and not out.is_dir():
        raise InputError(f"{o} {out} is a file, not a folder; choose another {o}")
    exists = out.is_dir()
    # a folder this process already checked and locked (the CLI owns it, then the API is called) is a run
    is_run = exists and (str(out.resolve()) in _held or is_run_dir(out))
    used = exists and any(p.name not in PRE_RUN_FILES for p in out.iterdir())
    has_ckpt = exists and (out / CHECKPOINT).exists()
    if is_run:
        lock_run_dir(out)  # first, so that no other writer changes it while we look
    if used and not is_run and has_ckpt:  # a run's checkpoint, but its config.json is gone or not molgfn's
        what = ("has no config.json" if not (out / CONFIG).exists()
                else "has a config.json that is damaged or not molgfn's")
        raise InputError(f"{out} holds a checkpoint but {what}, so it cannot be {'resumed' if resume else 'replaced'}: "
                         f"restore {out / CONFIG} from a backup, or choose another {o}")
    if used and not is_run:
        raise InputError(f"{o} {out} is not empty and is not a molgfn run; molgfn only ever replaces files of its "
                         f"own runs: choose another (or an empty) {o}")
    if used and is_run and not has_ckpt and (resume or not overwrite):
        raise InputError(f"run directory {out} stopped before its first checkpoint, so there is nothing to resume: "
                         f"start it again with {w} (or choose another {o})")
    if resume and not has_ckpt:
        raise InputError(f"{r}: {out} holds no run to continue; start a new run without {r}")
    if used and not resume and not overwrite:
        raise InputError(f"run directory {out} holds a run: pass {r} to continue it, {w} to start again, "
                         f"or choose another {o}")
    if dry_run:
        return []
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise input_error(e, f"cannot create {o}") from None
    lock_run_dir(out)
    notes = []
    stale = clean_stale_temps(out)
    if stale:
        notes.append(f"removed {len(stale)} temp file(s) of interrupted writes in {out}")
    if used and not resume:  # overwrite, and only once everything else has been checked
        remove_run_files(out)
        kept = foreign_files(out)
        if kept:
            notes.append(f"{w} kept {len(kept)} file(s) molgfn did not write: {', '.join(kept[:5])}")
    return notes
