"""`molgfn score` on large files: the objects are scored in chunks, with progress on stderr.

One oracle batch per chunk (``CHUNK`` objects): each chunk is one ``map`` over the task's
executor (local, process or Ray, which stays up between chunks), so no single call, wait or
deadline grows with the file, results reach the score store chunk by chunk, and a long file
shows how far it got.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

CHUNK = 2048  # objects per chunk: large enough to keep every worker busy, small enough to show progress


def score_in_chunks(score_part: Callable[[list[str]], object], objects: Sequence[str], chunk: int | None = None,
                    stream=None):
    """``score_part`` (objects -> DataFrame) over ``objects`` in chunks, the frames concatenated
    in order; a progress line per chunk on ``stream`` (stderr) when there is more than one."""
    import pandas as pd

    size = max(1, int(chunk or CHUNK))
    objects = list(objects)
    if len(objects) <= size:
        return score_part(objects)
    stream = stream or sys.stderr
    parts, t0 = [], time.monotonic()
    for start in range(0, len(objects), size):
        parts.append(score_part(objects[start:start + size]))
        done = min(start + size, len(objects))
        stream.write(f"scored {done:,}/{len(objects):,} objects ({time.monotonic() - t0:.0f} s)\n")
        stream.flush()
    return pd.concat(parts, ignore_index=True)
