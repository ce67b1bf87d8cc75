"""Atomic file writes: a temp file in the same folder, fsync, then rename, so a reader
(or a crash, or a full disk) never sees half a file: the previous version stays whole until the
new one is complete. An OS error names the file it was writing (a write through a descriptor
names none). A destination that is a device or a pipe (``-o /dev/stdout``) is written in place:
there is no file to replace, and renaming over it would replace the device."""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path

TEMP_MARK = "molgfn."  # temp names are ".NAME.molgfn.XXXXXXXX.tmp": recognisably ours, cleaned on the next start


def _named(e: OSError, dest: Path) -> OSError:
    if e.filename is not None or not e.errno:
        return e
    return type(e)(e.errno, e.strerror or os.strerror(e.errno), str(dest))


def _special(dest: Path) -> bool:
    try:
        mode = os.stat(dest).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def atomic_write_bytes(dest: Path, payload: bytes) -> None:
    dest = Path(dest)
    if _special(dest):
        try:
            with open(dest, "wb") as f:
                f.write(payload)
        except OSError as e:
            raise _named(e, dest) from None
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    # a name near the file system's limit (255 bytes) still gets a temp name that fits
    stem = dest.name if len(dest.name.encode()) <= 200 else dest.name[:50]
    try:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{stem}.{TEMP_MARK}", suffix=".tmp")
    except OSError as e:  # named as the file the user knows, not our temp name
        raise type(e)(e.errno, e.strerror or os.strerror(e.errno), str(dest)) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a data file should read like any other
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise _named(e, dest) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(Path(path), text.encode())


def atomic_torch_save(path: Path, obj) -> None:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
