"""The pieces every bench/ script shares, so that each script keeps only what it measures.

    from harness import parser, command, median, print_table, ...   # in bench/NAME.py

* importing this module puts the checkout on ``sys.path`` before site-packages (after $PYTHONPATH), so a
  script run as ``python bench/NAME.py`` measures the tree it sits in, installed or not;
* :func:`parser`: an ``argparse`` parser with the common flags (``--repeats``, ``--seed``, ``--seeds``,
  ``--csv``, ``--device``, ``--threads``), each added only when the script gives its default;
* :func:`command`: the exact command line that made a table, to print above it;
* :func:`median`, :func:`spread`, :func:`timed`, :func:`interleave`: medians over repeats, with the
  settings compared taking turns so that the load of a shared machine falls on all alike;
* :func:`child`, :func:`busy_loops`: a measurement in a fresh child process (its result the last line
  of its stdout, as JSON), and CPU hogs to measure under load;
* :func:`table`, :func:`print_table`: a Markdown table (with the command line above it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def _use_checkout() -> None:
    """Put ROOT on ``sys.path`` just after the script's folder and $PYTHONPATH's entries: the checkout's molgfn
    comes before an installed one, and ``PYTHONPATH=OTHER_TREE`` still measures that other tree."""
    if str(ROOT) not in sys.path:
        given = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
        at = 1
        while at < len(sys.path) and os.path.abspath(sys.path[at] or ".") in given:
            at += 1
        sys.path.insert(at, str(ROOT))
    if str(BENCH) not in sys.path:  # the scripts' shared modules, also when this one is loaded by path
        sys.path.append(str(BENCH))


_use_checkout()

_UNSET = object()


def parser(doc: str | None = None, *, first: str = "line", repeats=_UNSET, seed=_UNSET, seeds=_UNSET, csv=_UNSET,
           device=_UNSET, threads=_UNSET, **kwargs) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` described by ``doc``'s first line (``first="paragraph"``: its first paragraph,
    ``"all"``: all of it, raw) with each common flag whose default is given: ``repeats`` and ``seed`` ints,
    ``seeds`` a list of ints (``nargs="+"``), ``csv`` a path, ``device`` and ``threads``."""
    if doc and first == "all":
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    desc = None if not doc else {"line": doc.splitlines()[0], "paragraph": doc.split("\n\n")[0], "all": doc}[first]
    ap = argparse.ArgumentParser(description=desc, **kwargs)
    if repeats is not _UNSET:
        ap.add_argument("--repeats", type=int, default=repeats, help=f"measurements per setting (default {repeats})")
    if seed is not _UNSET:
        ap.add_argument("--seed", type=int, default=seed)
    if seeds is not _UNSET:
        ap.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    if csv is not _UNSET:
        ap.add_argument("--csv", type=Path, default=csv, help="also write the rows here")
    if device is not _UNSET:
        ap.add_argument("--device", default=device)
    if threads is not _UNSET:
        ap.add_argument("--threads", type=int, default=threads, help=f"torch CPU threads (default {threads})")
    return ap


def command(prefix: str = "python", argv: Sequence[str] | None = None, script: str | None = None) -> str:
    """The command line that ran this script: ``prefix bench/NAME.py ARGS`` (ARGS quoted for a shell;
    ``argv`` defaults to ``sys.argv[1:]``, ``script`` to ``sys.argv[0]``'s name)."""
    args = sys.argv[1:] if argv is None else list(argv)
    name = script or Path(sys.argv[0]).name
    return " ".join(x for x in (prefix, f"bench/{name}", shlex.join(args)) if x)


def median(xs: Iterable[float]) -> float:
    return statistics.median(list(xs))


def spread(xs: Iterable[float]) -> tuple[float, float]:
    """(min, max)."""
    xs = list(xs)
    return min(xs), max(xs)


def summary(xs: Iterable[float], fmt: str = ".3g") -> str:
    """``median (min-max)``."""
    xs = list(xs)
    lo, hi = spread(xs)
    return f"{median(xs):{fmt}} ({lo:{fmt}}-{hi:{fmt}})"


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """(median seconds of ``repeats`` calls of ``fn``, what the last call returned)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return median(times), out


def interleave(settings: dict[str, Callable[[], object]], repeats: int, *, per_turn: int = 1,
               before: Callable[[str], object] | None = None) -> dict[str, list[float]]:
    """Seconds of each setting's call, the settings taking turns ``repeats`` times (each turn: ``before(name)``
    untimed, then ``per_turn`` timed calls), so that load that comes and goes hits them alike."""
    times: dict[str, list[float]] = {k: [] for k in settings}
    for _ in range(repeats):
        for name, fn in settings.items():
            if before is not None:
                before(name)
            for _ in range(per_turn):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return times


def child(args: Sequence[object], *, env: dict[str, str] | None = None, cwd: Path | str | None = None,
          timeout: float | None = None) -> dict:
    """Run ``python ARGS`` in a fresh process (``env`` added to this one's) and return the JSON object it
    printed last on stdout; a failure raises ``RuntimeError`` with the end of its stderr."""
    cmd = [sys.executable, *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                         env=None if env is None else {**os.environ, **env})
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spin(stop) -> None:
    while not stop.is_set():
        pass


@contextlib.contextmanager
def busy_loops(n: int, settle: float = 0.5):
    """``n`` busy-loop processes hogging the CPUs while the block runs (stopped, or killed, after it)."""
    stop = mp.Event()
    procs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        time.sleep(settle if n else 0)
        yield
    finally:
        stop.set()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (cells as given: format numbers before)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]] = (), head: str | None = None) -> None:
    """Print ``head`` (e.g. the command line) and a blank line, then the table; rows given later can be printed
    one by one with :func:`print_row` (flushed, for long runs)."""
    if head is not None:
        print(head)
        print()
    print(table(headers, rows), flush=True)


def print_row(*cells: object) -> None:
    print("| " + " | ".join(map(str, cells)) + " |", flush=True)
