"""Paths the user names. Two questions, answered once for every command:

- may molgfn write this output? Never onto a run's own files (``sample R -o R/checkpoint.pt``),
  never onto the file it reads (``score -i F -o F``), never over a file molgfn did not write
  (a user's ``report.html``), unless the user says ``--force``; an empty file holds nothing to
  lose. Paths are compared after resolving ``..`` and symbolic links, so ``./R/../R/config.json``
  and a link to a run file are caught too; hard links are safe because every write is atomic (a
  new file renamed over the name: the other names keep the old contents).
- what does this OS error mean to the user? One line naming the path, what went wrong and what
  to do (``os_error_message``); ``None`` for an error that is not the user's (a bug)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import InputError

# errno -> what to do; the user's own conditions (names, space, permissions), never a bug of ours
_ADVICE = {
    errno.ENAMETOOLONG: "a name in the path is longer than the file system allows (usually 255 bytes): "
                        "choose a shorter path",
    errno.ENOSPC: "the disk is full: free some space, or choose a folder on another disk",
    errno.EDQUOT: "your disk quota is used up: free some space, or choose a folder on another disk",
    errno.EFBIG: "the file is larger than the file system or the file-size limit (ulimit -f) allows: raise "
                 "the limit, or choose another disk",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "permission denied: check the permissions, or choose another path",
    errno.EPERM: "not permitted: check the permissions, or choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "it is a folder, not a file: give a file name",
    errno.ELOOP: "too many levels of symbolic links (a link pointing to itself?): check the path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.EEXIST: "it already exists: choose another path",
    errno.ENOTEMPTY: "the folder is not empty: choose another path",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n), or close other programs",
    errno.ENFILE: "the system has too many open files: close other programs and try again",
    errno.EIO: "the disk reported an input/output error: check the disk, or choose a folder on another disk",
    errno.EBUSY: "the file or device is busy: try again when it is free, or choose another path",
    errno.ETXTBSY: "the file is busy (a running program): choose another path",
    errno.EXDEV: "the path is on another file system than its folder: choose a path inside one folder",
    errno.ENXIO: "no such device: check the path",
    errno.ENODEV: "no such device: check the path",
    errno.ESTALE: "a stale network file handle: remount the file system or choose a local folder",
}
if hasattr(errno, "ENOTSUP"):
    _ADVICE[errno.ENOTSUP] = "the file system does not support this operation: choose a folder on a local disk"
_WRITING = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def os_error_message(e: OSError, doing: str | None = None) -> str | None:
    """One line for an OS error the user can act on: ``cannot write PATH: No space left on device;
    the disk is full: ...``. ``None`` when it is not the user's condition (no errno we know)."""
    advice = _ADVICE.get(getattr(e, "errno", None) or -1)
    if advice is None:
        return None
    names = [str(n) for n in (e.filename, getattr(e, "filename2", None)) if n is not None]
    if len(names) == 2:
        where = f"{names[0]} -> {names[1]}"
    elif names:
        where = names[0]
    else:
        where = ""
    verb = doing or ("cannot write" if e.errno in _WRITING else "cannot use")
    reason = e.strerror or errno.errorcode.get(e.errno, str(e.errno))
    head = f"{verb} {where}: {reason}" if where else f"{verb}: {reason}"
    return f"{head}; {advice}"


def input_error(e: OSError, doing: str | None = None) -> InputError | OSError:
    """The OS error as a one-line ``InputError`` (or the error itself when it is not the user's)."""
    msg = os_error_message(e, doing)
    return InputError(msg) if msg is not None else e


def with_path(e: OSError, path: str | Path) -> OSError:
    """The same OS error naming ``path`` (a write through a file descriptor names no file)."""
    if e.filename is not None or not e.errno:
        return e
    new = type(e)(e.errno, e.strerror or os.strerror(e.errno), str(path))
    new.__traceback__ = e.__traceback__
    return new


# ---- may molgfn write this output? -------------------------------------------------------------
def _run_names() -> frozenset[str]:
    from . import runs
    from .report import HTML

    return frozenset((*runs.RUN_FILES, *runs.PRE_RUN_FILES, HTML))


def in_run_dir(folder: Path) -> bool:
    """``folder`` holds any sign of a molgfn run (generous on purpose: it guards a run's files
    against outputs; ``runs.is_run_dir`` is the strict test that lets --overwrite remove them)."""
    from . import runs

    try:
        return runs.looks_like_run(folder)
    except OSError:
        return False


def run_file_of(path: Path) -> Path | None:
    """The run folder whose own file ``path`` is (after resolving links and ``..``), else None."""
    real = Path(os.path.realpath(path))
    if real.name in _run_names() and in_run_dir(real.parent):
        return real.parent
    return None


def _head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


PNG_MARK = b"tEXtSoftware\x00molgfn"


def tag_png(png: bytes) -> bytes:
    """A PNG with a ``Software: molgfn`` text chunk after its header: how a later run knows the
    picture is its own to replace."""
    import struct
    import zlib

    if not png.startswith(b"\x89PNG\r\n\x1a\n") or PNG_MARK in png[:256]:
        return png
    body = b"tEXt" + b"Software\x00molgfn"
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    end_ihdr = 8 + 4 + 4 + 13 + 4  # signature, IHDR length, type, data, CRC
    return png[:end_ihdr] + chunk + png[end_ihdr:]


def written_by_molgfn(path: Path) -> bool:
    """Whether a file carries molgfn's signature: a table with a ``raw_score`` column (every table
    molgfn writes: samples, scores, candidates, a store export), molgfn's report.html, a PNG
    molgfn tagged, a bench results file. Unreadable means no."""
    path = Path(path)
    try:
        head = _head(path)
        suffix = path.suffix.lower()
        if suffix == ".parquet" or head.startswith(b"PAR1"):
            try:
                import pyarrow.parquet as pq

                return "raw_score" in pq.read_schema(path).names
            except Exception:  # not parquet after all, or no pyarrow: not recognisably ours
                return False
        if head.startswith(b"\x89PNG"):
            return PNG_MARK in head
        text = head.decode("utf-8", errors="replace")
        if "<title>molgfn report:" in text[:600]:
            return True
        if text.startswith("command: `molgfn bench") or text.startswith('{"command": "molgfn bench'):
            return True
        if text.startswith('{\n "molgfn_vocabulary"'):  # a block vocabulary of `molgfn fragments build`
            return True
        first = text.splitlines()[0] if text else ""
        if "raw_score" in [c.strip().strip('"') for c in first.split(",")] or first.startswith("task,method,seed"):
            return True
        return "> <raw_score>" in text  # an SDF of molgfn's (each record carries its score)
    except OSError:
        return False


def _replaceable(path: Path, ours: Callable[[Path], bool]) -> bool:
    st = path.stat()
    return st.st_size == 0 or ours(path)


def check_output_file(output: str | Path, *, force: bool = False, flag: str = "--output",
                      inputs: Iterable[str | Path] = ()) -> Path:
    """Where ``-o output`` may be written: the path with links resolved (a write goes through the
    user's link, to the file it names). Refused (``InputError``), unless ``force``: a file of a
    run, one of ``inputs``, an existing file molgfn did not write. Always refused: a folder."""
    given = Path(output)
    try:
        real = Path(os.path.realpath(given))
        if real.is_dir():
            raise InputError(f"cannot write {flag} {output}: it is a folder; give a file name, e.g. "
                             f"{given / 'samples.csv'}")
        above = next((a for a in real.parents if os.path.lexists(a)), None)
        if above is not None and not above.is_dir():
            raise InputError(f"cannot write {flag} {output}: {above} is a file, not a folder; choose another {flag}")
        exists = real.exists()
        if exists and not real.is_file():  # a device or a pipe (/dev/stdout): written in place, nothing replaced
            return real
        if not force:
            for inp in inputs:
                if inp is not None and exists and Path(inp).exists() and os.path.samefile(real, inp):
                    raise InputError(f"{flag} {output} is the input file {inp}: writing it would replace what was "
                                     f"read; choose another {flag} (or pass --force to replace it)")
            run = run_file_of(real)
            if run is not None:
                raise InputError(f"{flag} {output} is {real.name} of the molgfn run {run}: writing it would destroy "
                                 f"the run; choose another {flag} (or pass --force)")
            if exists and not _replaceable(real, written_by_molgfn):
                raise InputError(f"{flag} {output} exists and molgfn did not write it; choose another {flag}, or "
                                 "pass --force to replace it")
    except OSError as e:
        raise input_error(e, f"cannot write {flag}") from None
    return real


def check_output_dir(folder: Path, names: Iterable[str], *, force: bool = False, flag: str = "--out",
                     ours: Callable[[Path], bool] = written_by_molgfn, own_names: Iterable[str] = ()) -> None:
    """A folder that a command fills with fixed ``names``: it must be a folder (or not exist yet),
    and each name already there must be empty or molgfn's (``ours``; ``own_names`` count as
    molgfn's in a folder that is a run), unless ``force``. Refused with every name at once."""
    folder = Path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{flag} {folder} is a file, not a folder; choose a folder (it is created when missing)")
        if not folder.is_dir():
            return
        run = in_run_dir(folder)
        own = set(own_names)
        foreign = []
        for name in names:
            p = folder / name
            if not os.path.lexists(p):
                continue
            if p.is_dir():
                raise InputError(f"{flag} {folder} holds a folder named {name}, where molgfn writes a file; choose "
                                 f"another {flag}")
            if force:
                continue
            if p.is_symlink() or not _replaceable(p, lambda q: (run and q.name in own) or ours(q)):
                foreign.append(name)
        if foreign:
            raise InputError(f"{flag} {folder} holds {', '.join(foreign)}, which molgfn did not write; choose "
                             f"another {flag}, or pass --force to replace {'it' if len(foreign) == 1 else 'them'}")
    except OSError as e:
        raise input_error(e, f"cannot use {flag}") from None
