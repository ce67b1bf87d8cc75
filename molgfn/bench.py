"""`molgfn bench`: a grid of tasks x methods x seeds at a fixed oracle budget.

Writes one CSV of curves (modes and top-100 score versus reward calls), one CSV of final
metrics, a Markdown table and PNG plots. Every method spends the same reward calls per
round (LS-GFN's accounting), so rows are compared at equal oracle budgets.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .pmo_metric import PUBLISHED
from .runs import atomic_write_csv

METHODS: dict[str, dict] = {
    "tb": {},
    "tb-ls": {"local_search": True},
    "logit-ls": {"local_search": True, "conditioning": "logit", "beta_dist": "uniform:1,3"},
    "layer-ls": {"local_search": True, "conditioning": "layer", "beta_dist": "uniform:1,3"},
    "logit": {"conditioning": "logit", "beta_dist": "uniform:1,3"},
    "layer": {"conditioning": "layer", "beta_dist": "uniform:1,3"},
    "design": {},  # the task's own `molgfn design` recipe (Task.design_defaults), whatever it is today
}

# task settings of the LS-GFN paper: width, exploration, grad steps, K
PAPER_SETTINGS = {
    "tfbind8": {"hidden": 128, "epsilon": 0.01, "grad_steps": 3, "ls_backtrack": 4},
    "rna1": {"hidden": 128, "epsilon": 0.01, "grad_steps": 3, "ls_backtrack": 7},
    "qm9str": {"hidden": 1024, "epsilon": 0.1, "grad_steps": 1, "ls_backtrack": 3},
    "sehstr": {"hidden": 1024, "epsilon": 0.05, "grad_steps": 1, "ls_backtrack": 3},
}


@dataclass
class Preset:
    tasks: list[str]
    methods: list[str]
    seeds: list[int]
    rounds: dict[str, int]
    hidden_override: int | None = None  # small preset: narrower nets to finish in minutes
    max_oracle_calls: int | None = None  # a PMO-style budget: runs stop at this many unique valid objects


DEFAULT_ROUNDS = 100  # a task the preset does not name

PRESETS = {
    "small": Preset(["tfbind8", "qm9str", "rna1"], ["tb", "tb-ls", "logit-ls", "layer-ls", "logit", "layer"],
                    [0, 1, 2], {"tfbind8": 100, "qm9str": 100, "rna1": 50, "sehstr": 100}, hidden_override=128),
    # the budgets behind bench/RESULTS.md: papers' widths, tens of minutes on 2 cores
    "results": Preset(["tfbind8", "qm9str", "rna1"], ["tb", "tb-ls", "logit-ls", "layer-ls", "logit", "layer"],
                      [0, 1, 2], {"tfbind8": 500, "qm9str": 500, "rna1": 200, "sehstr": 500}),
    "paper": Preset(["tfbind8", "qm9str", "sehstr", "rna1"], ["tb", "tb-ls", "logit-ls", "layer-ls"], [0, 1, 2],
                    {"tfbind8": 2000, "qm9str": 2000, "sehstr": 2000, "rna1": 5000}),
    # PMO (Gao et al. 2022): every oracle at 10,000 calls, the design recipe, AUC top-10 (bench/PMO.md)
    "pmo": Preset(["pmo-" + name.replace("_", "-") for name in PUBLISHED], ["design"], [0, 1, 2], {},
                  max_oracle_calls=10_000),
}


def run_one(task_name: str, method: str, seed: int, rounds: int, hidden: int | None, eval_every: int = 10,
            lr: float = 1e-3, data_dir: str | None = None, task_options: dict | None = None,
            make_task: Callable | None = None, events=None, job: int = 0,
            oracle_settings=None, max_oracle_calls: int | None = None) -> tuple[list[dict], dict]:
    """One training run of the grid. ``make_task(name, **options)`` builds the task (the CLI passes
    the task registry's ``get_task``, so this module knows no task); ``events`` (a queue) receives
    ``("round", job, round, rounds)`` every ``eval_every`` rounds for progress display.
    ``oracle_settings`` (``OracleSettings``): how the task's oracle runs (default: the ``auto``
    executor with one worker), so a crashing or hanging oracle costs what it costs in ``train``.
    ``max_oracle_calls``: the run stops at that many unique valid objects (``molgfn.budget``; ``rounds``
    is then only a cap) and its final metrics carry PMO's ``auc_top10`` (``molgfn.pmo_metric``). Method
    ``design`` trains with the task's own ``design_defaults`` recipe."""
    import torch

    from . import assets

    assets.set_data_dir(data_dir)  # worker processes do not inherit the parent's setting
    from .config import TrainConfig
    from .evaluation import evaluate_trainer
    from .trainer import Trainer

    if make_task is None:
        raise ValueError("run_one needs make_task(name, **options), e.g. tasks.get_task")
    torch.set_num_threads(1)
    settings = dict(PAPER_SETTINGS.get(task_name, {}))
    if hidden:
        settings["hidden"] = hidden
    task = make_task(task_name, **(task_options or {}))
    recipe = dict(getattr(task, "design_defaults", {})) if method == "design" else METHODS[method]
    cfg = TrainConfig(task=task_name, task_options=dict(task_options or {}), rounds=rounds, seed=seed,
                      device="cpu", lr=lr, max_oracle_calls=max_oracle_calls, **{**settings, **recipe})
    # an oracle runs as in `train`: fault-tolerant scheduling, one worker per run (runs are parallel)
    from .oracle import OracleSettings, configure_task

    configure_task(task, oracle_settings or OracleSettings(workers=1))
    tr = Trainer(cfg, task)
    curve: list[dict] = []
    t0 = time.perf_counter()

    def on_round(row: dict) -> None:
        if row["round"] % eval_every == 0 or row["round"] == rounds:
            raws = sorted(tr.seen.raw.values(), reverse=True)[:100]
            curve.append({"task": task_name, "method": method, "seed": seed, "round": row["round"],
                          "reward_calls": row["reward_calls"], "modes": row["modes"],
                          "top100_seen": float(np.mean(raws)), "wall_s": time.perf_counter() - t0})
            if events is not None:
                events.put(("round", job, row["round"], rounds))

    last: dict = {}
    tr.train(on_round=lambda row: (last.update(row), on_round(row)))
    if last and (not curve or curve[-1]["round"] != last["round"]):  # a budget ended it between evaluations
        on_round({**last, "round": rounds})
        curve[-1]["round"] = last["round"]
    wall = time.perf_counter() - t0
    final = {"task": task_name, "method": method, "seed": seed, "wall_s": wall,
             "ms_per_round": 1e3 * wall / max(1, tr.round)}
    ev = evaluate_trainer(tr, n=1000, beta=1.0, k=100)
    final.update({k: v for k, v in ev.items() if isinstance(v, (int, float)) or v is None})
    final["rounds"] = tr.round
    if recipe.get("conditioning") and hasattr(task, "table"):
        from .exact import distribution_report

        for b in (1.0, 2.0, 3.0):
            rep = distribution_report(tr.env, tr.policy, task.log_reward(task.table), b)
            final[f"l1_beta{b:g}"] = rep["l1"]
    task.close()
    return curve, final


def _job(args):
    *pos, kw = args
    return run_one(*pos, **kw)


def _job_main(args, conn, events) -> None:
    """One grid run in its own process: the result, or the error, goes back through ``conn``."""
    import signal

    from .oracle.executors import _prctl_pdeathsig

    _prctl_pdeathsig(signal.SIGKILL)  # dies with the bench, even killed -9; its oracle workers follow
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the bench's to handle: it stops every run
    args[-1]["events"] = events
    try:
        res = ("ok", _job(args))
    except BaseException as e:  # noqa: BLE001 -- every failure is reported, none lost
        try:
            import pickle

            pickle.dumps(e)
            res = ("error", e)
        except Exception:
            res = ("error", RuntimeError(f"{type(e).__name__}: {e}"))
    conn.send(res)
    conn.close()


def _run_parallel(jobs: list[tuple], workers: int, emit: Callable[[tuple], None]):
    """Run ``jobs`` (``_job`` arguments) in at most ``workers`` processes at a time; yield ``(i, result)``
    as each finishes. A run that raises stops the grid with its error; a run whose process dies
    (a crash, the OOM killer) stops it with a one-line error naming the run: nothing waits forever.
    Every process this started is stopped on every way out."""
    import multiprocessing as mp
    import queue as queue_mod
    from multiprocessing.connection import wait

    from .errors import MolgfnError
    from .oracle.executors import describe_death

    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    todo = list(enumerate(jobs))
    running: dict = {}  # i -> (process, connection)

    def drain() -> None:
        while True:
            try:
                emit(events.get_nowait())
            except (queue_mod.Empty, OSError, EOFError):
                return

    try:
        while todo or running:
            while todo and len(running) < workers:
                i, a = todo.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_job_main, args=(a, send, events), daemon=False)
                proc.start()
                send.close()
                running[i] = (proc, recv)
            handles = {}
            for i, (proc, recv) in running.items():
                handles[recv] = i
                handles[proc.sentinel] = i
            ready = wait(list(handles), timeout=0.2)
            drain()
            for i in dict.fromkeys(handles[h] for h in ready):
                proc, recv = running.pop(i)
                try:
                    status, res = recv.recv() if recv.poll() else (None, None)
                except (EOFError, OSError):
                    status, res = None, None
                recv.close()
                proc.join(10)
                drain()
                if status == "ok":
                    yield i, res
                elif status == "error":
                    raise res
                else:
                    t, m, seed, *_ = jobs[i]
                    raise MolgfnError(f"bench run {t}/{m}/seed {seed} died ({describe_death(proc.exitcode)}); "
                                      "its oracle or the machine's memory is the likely cause")
    finally:
        for proc, recv in running.values():
            if proc.is_alive():
                proc.kill()
            proc.join(10)
            recv.close()
        events.close()
        events.join_thread()


def grid_jobs(preset: Preset, tasks: list[str] | None = None, methods: list[str] | None = None,
              seeds: list[int] | None = None, rounds: int | None = None,
              max_oracle_calls: int | None = None) -> list[tuple[str, str, int, int]]:
    """(task, method, seed, rounds) of every run in the grid. Under a budget (``max_oracle_calls``) a run
    without given rounds gets ``molgfn.budget.default_rounds``: the budget, not the rounds, ends it."""
    if rounds is None and max_oracle_calls is not None:
        from .budget import default_rounds
        from .config import TrainConfig

        rounds = default_rounds(max_oracle_calls, TrainConfig.batch_size)
    return [(t, m, s, rounds or preset.rounds.get(t, DEFAULT_ROUNDS))
            for t in (tasks or preset.tasks) for m in (methods or preset.methods) for s in (seeds or preset.seeds)]


def run_grid(preset: Preset, out_dir: Path, workers: int = 2, tasks: list[str] | None = None,
             methods: list[str] | None = None, seeds: list[int] | None = None, rounds: int | None = None,
             lr: float = 1e-3, data_dir: str | None = None, task_options: dict[str, dict] | None = None,
             make_task: Callable | None = None, progress: Callable[[tuple], None] | None = None,
             max_oracle_calls: int | None = None) -> Path:
    """Run the grid, saving after every finished run. ``task_options[task]`` are the options of
    each task (e.g. a custom oracle); ``progress`` receives ``("round", job, round, rounds)`` and
    ``("done", job, final_metrics)`` events, in the calling process. ``max_oracle_calls`` overrides
    the preset's budget."""
    out_dir.mkdir(parents=True, exist_ok=True)
    budget = max_oracle_calls if max_oracle_calls is not None else preset.max_oracle_calls
    grid = grid_jobs(preset, tasks, methods, seeds, rounds, budget)
    task_options = task_options or {}
    results: list = []
    emit = progress or (lambda ev: None)

    def save() -> None:  # after every finished run: a crash or Ctrl-C keeps what was done
        curves = pd.DataFrame([r for c, _ in results for r in c])
        finals = pd.DataFrame([f for _, f in results])
        atomic_write_csv(out_dir / "curves.csv", curves)
        atomic_write_csv(out_dir / "results.csv", finals)

    def finish(i: int, res) -> None:
        results.append(res)
        save()
        emit(("done", i, res[1]))

    def args(i: int, job, events) -> tuple:
        t, m, s, r = job
        return (t, m, s, r, preset.hidden_override, 10, lr, data_dir,
                {"task_options": task_options.get(t, {}), "make_task": make_task, "events": events, "job": i,
                 "max_oracle_calls": budget})

    if workers > 1:
        for i, res in _run_parallel([args(i, job, None) for i, job in enumerate(grid)], workers, emit):
            finish(i, res)
    else:
        class _Direct:  # in-process: events go straight to the callback
            def put(self, ev) -> None:
                emit(ev)

        for i, job in enumerate(grid):
            finish(i, _job(args(i, job, _Direct())))
    plot(pd.read_csv(out_dir / "curves.csv"), out_dir)
    return out_dir


def plot(curves: pd.DataFrame, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for task, df in curves.groupby("task"):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for method, dm in df.groupby("method"):
            g = dm.groupby("reward_calls")
            for ax, col in zip(axes, ("modes", "top100_seen"), strict=True):
                med = g[col].median()
                ax.plot(med.index, med.values, label=method)
                ax.fill_between(med.index, g[col].min().values, g[col].max().values, alpha=0.15)
        axes[0].set_ylabel("modes discovered")
        axes[1].set_ylabel("top-100 mean raw score (all samples so far)")
        for ax in axes:
            ax.set_xlabel("reward calls")
            ax.legend()
        fig.suptitle(f"{task}: median over seeds (band: min-max)")
        fig.tight_layout()
        import io

        from .atomic import atomic_write_bytes
        from .paths import tag_png

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        atomic_write_bytes(out_dir / f"{task}.png", tag_png(buf.getvalue()))  # tagged: molgfn's to replace
        plt.close(fig)


def markdown(finals: pd.DataFrame, command: str) -> str:
    cols = ["modes_found", "num_modes", "reward_calls", "top_k_mean_raw", "top_k_mean_raw_over_max",
            "top_k_diversity_levenshtein",
            "l1", "log_z_error", "is_log_z_error", "is_log_z_se", "is_ess", "wall_s", "ms_per_round"]
    cols += [c for c in finals.columns if c.startswith("l1_beta")]
    cols += [c for c in finals.columns if c.startswith("modes_found_") or c == "top_k_diversity_tanimoto"]
    lines = [f"command: `{command}`", "",
             "Medians over seeds (per-seed values in brackets for modes). Final-sample metrics use 1,000 "
             "samples at beta = 1; top-100 diversity is the true mean pairwise distance. Calibration: l1 and "
             "log_z_error (learned - exact, signed) on enumerable tasks; is_log_z_error = learned log Z - an "
             "importance-sampled log Z from those samples (is_log_z_se its standard error, is_ess their "
             "effective number).", ""]
    present = [c for c in dict.fromkeys(cols) if c in finals.columns]
    lines.append("| task | method | " + " | ".join(present) + " |")
    lines.append("|---|---|" + "---|" * len(present))
    for (task, method), df in finals.groupby(["task", "method"], sort=False):
        cells = []
        for c in present:
            vals = [v for v in df[c].tolist() if v is not None and not (isinstance(v, float) and np.isnan(v))]
            if not vals:
                cells.append("")
                continue
            med = statistics.median(vals)
            cell = f"{med:.4g}"
            if c == "modes_found":
                cell += " (" + ", ".join(f"{v:g}" for v in vals) + ")"
            cells.append(cell)
        lines.append(f"| {task} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _median_cell(df: pd.DataFrame, col: str, fmt: str) -> str:
    vals = df[col].dropna().astype(float).tolist() if col in df else []
    return format(statistics.median(vals), fmt) if vals else ""


def pmo_markdown(finals: pd.DataFrame) -> str:
    """PMO's table: per task, our AUC top-10 (mean +- std over seeds, each seed's value) beside the
    published rows (``molgfn.pmo_metric.PUBLISHED``), and the sums over the tasks this grid ran."""
    from .pmo_metric import PUBLISHED, PUBLISHED_METHODS

    rows = finals[finals["task"].str.startswith("pmo-") & finals["auc_top10"].notna()]
    if rows.empty:
        return ""
    lines = ["", "PMO (Gao et al. 2022): AUC of the top-10 mean against oracle calls, normalised by the budget "
             "(molgfn.pmo_metric); ours: mean +- std over seeds [each seed]. Published: mean over 5 seeds at "
             "10,000 calls (sources in molgfn.pmo_metric.PUBLISHED). Calibration: is_log_z_error = learned log Z "
             "- importance-sampled log Z (1,000 samples at beta = 1), median over seeds, with its ESS.", "",
             "| task | method | calls (median) | ours auc_top10 | " + " | ".join(PUBLISHED_METHODS)
             + " | is_log_z_error | is_ess | wall s (median) |",
             "|---|---|---|---|" + "---|" * len(PUBLISHED_METHODS) + "---|---|---|"]
    sums = {m: [0.0, [0.0] * len(PUBLISHED_METHODS)] for m in rows["method"].unique()}
    for (task, method), df in rows.groupby(["task", "method"], sort=False):
        name = task.removeprefix("pmo-").replace("-", "_")
        pub = PUBLISHED.get(name)
        v = df["auc_top10"].astype(float).tolist()
        mean, std = statistics.mean(v), (statistics.stdev(v) if len(v) > 1 else 0.0)
        published = [f"{p:.3f}" for p in pub] if pub else [""] * len(PUBLISHED_METHODS)
        calls = _median_cell(df, "pmo_oracle_calls" if "pmo_oracle_calls" in df else "reward_calls", ".0f")
        lines.append(f"| {task} | {method} | {calls} | {mean:.3f} +- {std:.3f} ["
                     + ", ".join(f"{x:.3f}" for x in v) + "] | " + " | ".join(published)
                     + f" | {_median_cell(df, 'is_log_z_error', '+.2f')} | {_median_cell(df, 'is_ess', '.0f')} | "
                     f"{_median_cell(df, 'wall_s', '.0f')} |")
        sums[method][0] += mean
        for i, p in enumerate(pub or (0.0,) * len(PUBLISHED_METHODS)):
            sums[method][1][i] += p
    for method, (ours, pubs) in sums.items():
        n = rows[rows["method"] == method]["task"].nunique()
        lines.append(f"| **sum of these {n}** | {method} | | **{ours:.2f}** | "
                     + " | ".join(f"**{p:.2f}**" for p in pubs) + " | | | |")
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, command: str) -> str:
    finals = pd.read_csv(out_dir / "results.csv")
    md = markdown(finals, command)
    if "auc_top10" in finals:
        md += pmo_markdown(finals)
    from .atomic import atomic_write_text

    atomic_write_text(out_dir / "results.md", md)
    atomic_write_text(out_dir / "meta.json", json.dumps({"command": command}))
    return md


def is_bench_dir(folder: Path) -> bool:
    """A folder ``molgfn bench`` wrote (its meta.json or results.md says so): its files are molgfn's."""
    from .paths import written_by_molgfn

    return any(written_by_molgfn(Path(folder) / n) for n in ("meta.json", "results.md"))


def output_names(tasks) -> list[str]:
    """Every file a grid over ``tasks`` writes into its --out folder (checked before any run)."""
    return ["curves.csv", "results.csv", "results.md", "meta.json", *(f"{t}.png" for t in sorted(tasks))]
