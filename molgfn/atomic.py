"""Atomic file writes: a temp file in the same folder, fsync, then rename, so a reader
(or a crash) never sees half a file."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

TEMP_MARK = "molgfn."  # temp names are ".NAME.molgfn.XXXXXXXX.tmp": recognisably ours, cleaned on the next start


def atomic_write_bytes(dest: Path, payload: bytes) -> None:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{TEMP_MARK}", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a data file should read like any other
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
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
