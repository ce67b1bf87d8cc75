"""Watching a run: progress output and experiment loggers, fed by the trainer's ``on_round`` rows.

Progress is a rich bar on a terminal and one plain line every N rounds otherwise (a batch job's
log under SLURM stays readable). Loggers are optional extras, each behind one small class with
``log_params`` / ``log_round`` / ``close``:

- ``tensorboard``: event files in ``RUN/tensorboard`` via ``torch.utils.tensorboard``
  (``pip install 'molgfn[tensorboard]'``; view with ``tensorboard --logdir RUN``);
- ``mlflow``: one MLflow run per molgfn run, in ``$MLFLOW_TRACKING_URI`` when set, else a
  local file store ``RUN/mlruns`` (``pip install 'molgfn[mlflow]'``; ``mlflow ui --backend-store-uri RUN/mlruns``).
  A resumed run continues the same MLflow run (its id is kept in ``RUN/mlflow_run_id``).

Every numeric column of a metrics row becomes a scalar at step = round.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from .choices import LOGGERS, PROGRESS  # defined once, for the library and the CLI
from .errors import InputError

INSTALL = {"tensorboard": "pip install 'molgfn[tensorboard]'  (or: pip install tensorboard)",
           "mlflow": "pip install 'molgfn[mlflow]'  (or: pip install mlflow-skinny)"}
MLFLOW_RUN_ID = "mlflow_run_id"


def _numeric(row: dict) -> dict[str, float]:
    return {k: float(v) for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "round" and math.isfinite(v)}


def _flat_params(params: dict, prefix: str = "") -> dict[str, str]:
    """Nested dicts flattened to ``a.b`` keys with string values (what both loggers accept)."""
    out: dict[str, str] = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_flat_params(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = str(v)
    return out


class TensorBoardLogger:
    name = "tensorboard"

    def __init__(self, run_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise InputError(f"--logger tensorboard needs the tensorboard package: {INSTALL['tensorboard']}") from e
        self.log_dir = Path(run_dir) / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=5)  # watchable within seconds

    def log_params(self, params: dict) -> None:
        flat = _flat_params(params)
        self.writer.add_text("config", "\n".join(f"    {k} = {v}" for k, v in sorted(flat.items())), 0)

    def log_round(self, row: dict) -> None:
        step = int(row["round"])
        for k, v in _numeric(row).items():
            self.writer.add_scalar(k, v, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MLflowLogger:
    """Uses ``MlflowClient`` directly: no global active run, so a library caller's own MLflow
    runs are left alone. Metrics are buffered and sent in one batch every ``flush_s`` seconds
    (and at the end): a call per round would cost ~4 ms, half a fast round."""

    name = "mlflow"

    def __init__(self, run_dir: Path, experiment: str = "molgfn", flush_s: float = 5.0) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as e:
            raise InputError(f"--logger mlflow needs the mlflow package: {INSTALL['mlflow']}") from e
        run_dir = Path(run_dir)
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            # MLflow 3 keeps the file store in maintenance mode behind this switch; a file store in
            # the run directory needs no server and no database, which is what a batch job wants
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (run_dir / "mlruns").resolve().as_uri()
        self.uri = uri
        try:
            self.client = MlflowClient(tracking_uri=uri)
            exp = self.client.get_experiment_by_name(experiment)
            exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(experiment)
        except Exception as e:  # a bad or unreachable tracking URI: say so before training starts
            raise InputError(f"--logger mlflow cannot use the tracking store {uri!r}: {type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}. Check $MLFLOW_TRACKING_URI "
                             "(unset: a file store in the run directory)") from e
        id_file = run_dir / MLFLOW_RUN_ID
        self.run_id = None
        if id_file.exists():  # a resumed molgfn run continues its MLflow run
            rid = id_file.read_text().strip()
            try:
                self.client.get_run(rid)
                self.run_id = rid
                self.client.update_run(rid, status="RUNNING")
            except Exception:  # the store was moved or cleaned: start a new MLflow run
                self.run_id = None
        if self.run_id is None:
            self.run_id = self.client.create_run(exp_id, run_name=run_dir.resolve().name).info.run_id
            from .atomic import atomic_write_text

            atomic_write_text(id_file, self.run_id + "\n")
        self._params_logged = False
        self.flush_s = flush_s
        self._pending: list = []
        self._last_flush = time.monotonic()

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        if self._params_logged:
            return
        current = self.client.get_run(self.run_id).data.params
        # MLflow params are immutable: on resume only the ones not yet recorded are added
        items = [Param(k, v[:6000]) for k, v in _flat_params(params).items() if k not in current]
        for i in range(0, len(items), 100):  # the REST API takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i:i + 100])
        self._params_logged = True

    def log_round(self, row: dict) -> None:
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        step = int(row["round"])
        self._pending.extend(Metric(k, v, ts, step) for k, v in _numeric(row).items())
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        for i in range(0, len(self._pending), 1000):  # the REST API takes at most 1,000 metrics per batch
            self.client.log_batch(self.run_id, metrics=self._pending[i:i + 1000])
        self._pending = []
        self._last_flush = time.monotonic()

    def close(self, status: str = "FINISHED") -> None:
        self.flush()
        self.client.set_terminated(self.run_id, status=status)


def check_loggers(names: Iterable[str] | None) -> list[str]:
    """The logger names, checked before any work: known, and their package installed."""
    import importlib.util

    names = [n.strip().lower() for n in (names or []) if n and n.strip()]
    bad = [n for n in names if n not in LOGGERS]
    if bad:
        raise InputError(f"unknown --logger {', '.join(bad)}; choose from {', '.join(LOGGERS)}")
    for n in names:
        if importlib.util.find_spec(n) is None:
            raise InputError(f"--logger {n} needs the {n} package: {INSTALL[n]}")
    return list(dict.fromkeys(names))


def make_loggers(names: Iterable[str] | None, run_dir: Path | None) -> list:
    """Loggers by name (``tensorboard``, ``mlflow``); a clear error for an unknown name, a missing
    package (with its install command) or a logger without a run directory."""
    names = check_loggers(names)
    if names and run_dir is None:
        raise InputError("--logger needs a run directory (--out) to write to")
    made = []
    for n in names:
        made.append(TensorBoardLogger(run_dir) if n == "tensorboard" else MLflowLogger(run_dir))
    return made


# ---- progress ------------------------------------------------------------------------------
def progress_line(row: dict, total: int, elapsed_s: float, start_round: int = 0) -> str:
    """One plain line: round, loss, log Z, best raw score, modes, reward calls, speed and ETA."""
    done = row["round"] - start_round
    rate = elapsed_s / done if done > 0 else float("nan")
    eta = rate * (total - row["round"]) if done > 0 else float("nan")
    modes = f" modes {row['modes']}" if row.get("modes") else ""
    return (f"round {row['round']}/{total} loss {row['loss']:.4g} logZ {row['log_z']:.4g} "
            f"best {row['best_raw']:.4g}{modes} calls {row['reward_calls']} "
            f"{row['round_ms']:.0f} ms/round elapsed {_hms(elapsed_s)} eta {_hms(eta)}")


def _hms(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class PlainProgress:
    """One line per ``every`` rounds (and the last), flushed at once: readable in a job log."""

    def __init__(self, total: int, start_round: int = 0, every: int | None = None, stream: IO | None = None) -> None:
        self.total, self.start_round = total, start_round
        # default: about 20 lines per run, at most one per round
        self.every = every or max(1, (total - start_round) // 20)
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, row: dict) -> None:
        r = row["round"]
        if r % self.every == 0 or r == self.total:
            self.stream.write(progress_line(row, self.total, time.perf_counter() - self.t0, self.start_round) + "\n")
            self.stream.flush()


class BarProgress:
    """The rich progress bar (a terminal)."""

    def __init__(self, total: int, start_round: int = 0, console=None, has_modes: bool = False) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        cols = [TextColumn("[bold]train[/]"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                TextColumn("{task.fields[info]}")]
        self.total, self.has_modes = total, has_modes
        self.prog = Progress(*cols, console=console, transient=False)
        self.bar = self.prog.add_task("train", total=total, completed=start_round, info="")

    def __enter__(self) -> BarProgress:
        self.prog.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.prog.__exit__(*exc)

    def update(self, row: dict) -> None:
        if row["round"] % 5 == 0 or row["round"] == self.total:
            modes = f" modes {row['modes']}" if self.has_modes else ""
            self.prog.update(self.bar, completed=row["round"], info=(
                f"loss {row['loss']:.3g} logZ {row['log_z']:.3g} best {row['best_raw']:.4g}"
                f"{modes} calls {row['reward_calls']} {row['round_ms']:.0f} ms/round"))


class NoProgress:
    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, row: dict) -> None:
        pass




def make_progress(mode: str, total: int, start_round: int = 0, console=None, every: int | None = None,
                  has_modes: bool = False):
    """``auto``: the bar on a terminal, plain lines otherwise (the stream is the console's, stderr)."""
    if mode not in PROGRESS:
        raise InputError(f"--progress must be one of {', '.join(PROGRESS)}, got {mode!r}")
    if mode == "auto":
        is_tty = console.is_terminal if console is not None else sys.stderr.isatty()
        mode = "bar" if is_tty else "plain"
    if mode == "none":
        return NoProgress()
    if mode == "plain":
        return PlainProgress(total, start_round, every, stream=console.file if console is not None else None)
    return BarProgress(total, start_round, console, has_modes)


class Tracker:
    """Everything that watches a run, as one ``on_round`` callback: progress and loggers.

    Use as a context manager; loggers are closed (MLflow: FINISHED, or FAILED on an
    exception) when the block ends.
    """

    def __init__(self, progress=None, loggers: list | None = None,
                 extra: Callable[[dict], None] | None = None) -> None:
        self.progress = progress or NoProgress()
        self.loggers = loggers or []
        self.extra = extra

    def log_params(self, params: dict) -> None:
        for lg in self.loggers:
            lg.log_params(params)

    def __call__(self, row: dict) -> None:
        self.progress.update(row)
        for lg in self.loggers:
            lg.log_round(row)
        if self.extra is not None:
            self.extra(row)

    def __enter__(self) -> Tracker:
        self.progress.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.progress.__exit__(exc_type, exc, tb)
        finally:
            for lg in self.loggers:
                if isinstance(lg, MLflowLogger):
                    lg.close("FINISHED" if exc_type is None else
                             "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")
                else:
                    lg.close()


class GridProgress:
    """Progress of a benchmark grid (``molgfn bench``) from its events: ``("round", job, round,
    rounds)`` and ``("done", job, final_metrics)``. A bar over all rounds of all runs on a
    terminal; otherwise one plain line per finished run."""

    def __init__(self, jobs: list[tuple], mode: str = "auto", console=None) -> None:
        if mode not in PROGRESS:
            raise InputError(f"--progress must be one of {', '.join(PROGRESS)}, got {mode!r}")
        if mode == "auto":
            is_tty = console.is_terminal if console is not None else sys.stderr.isatty()
            mode = "bar" if is_tty else "plain"
        self.mode, self.jobs, self.console = mode, jobs, console
        self.stream = console.file if console is not None else sys.stderr
        self.total = sum(j[3] for j in jobs)
        self.done_rounds = [0] * len(jobs)
        self.finished = 0
        self.t0 = time.perf_counter()
        self.prog = None
        if mode == "bar":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.prog = Progress(TextColumn("[bold]bench[/]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("rounds"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                 console=console, transient=False)
            self.bar = self.prog.add_task("bench", total=self.total, info=f"0/{len(jobs)} runs")

    def __enter__(self) -> GridProgress:
        if self.prog is not None:
            self.prog.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.prog is not None:
            self.prog.__exit__(*exc)

    def __call__(self, event: tuple) -> None:
        kind, job = event[0], event[1]
        if kind == "round":
            self.done_rounds[job] = event[2]
        elif kind == "done":
            self.done_rounds[job] = self.jobs[job][3]
            self.finished += 1
            if self.mode == "plain":
                t, m, s, _ = self.jobs[job]
                f = event[2]
                parts = [f"run {self.finished}/{len(self.jobs)} done: {t} {m} seed {s}"]
                if f.get("num_modes"):
                    parts.append(f"modes {f.get('modes_found')}/{f['num_modes']}")
                if isinstance(f.get("top_k_mean_raw"), float):
                    parts.append(f"top-100 raw {f['top_k_mean_raw']:.4g}")
                parts.append(f"{f.get('wall_s', float('nan')):.1f} s (elapsed {_hms(time.perf_counter() - self.t0)})")
                self.stream.write(", ".join(parts) + "\n")
                self.stream.flush()
        if self.prog is not None:
            self.prog.update(self.bar, completed=sum(self.done_rounds),
                             info=f"{self.finished}/{len(self.jobs)} runs")
