"""Tuning study: which training recipe discovers the most modes per reward call.

A recipe is a method of ``molgfn bench`` (tb, tb-ls, logit-ls, ...) plus overrides of
``TrainConfig`` fields, written as one argument: ``logit-ls/lr=1e-4/grad_steps=2``
(``/`` separates the parts; values are read as int, float or text). Every run starts
from `design`'s option defaults (not the papers' per-task widths), so a row answers "what
should a user get without flags". Each run trains on the current library (Trainer) and
records, at each ``--at`` round, the modes discovered so far (every reward call counts,
local-search proposals included) and the top-100 mean raw score of everything seen; the
end of a run adds the 1,000-sample top-100 score and diversity (evaluate_trainer).

Tasks with no enumerated mode set and a costly mode rule (RNA) train with
``track_modes=False``; their mode count (Hamming-1 local optima above the top-0.5%
quantile) is computed once after training over all objects seen, and at the ``--at``
checkpoints over the objects first seen by then. That is the same number as tracking
during training, without the extra oracle calls in every round.

Rows are appended to ``--csv`` as each run finishes (a crash keeps what was done);
``--table`` prints the Markdown summary of a CSV with the command that made it.

    nice -n 10 python bench/tuning.py --task tfbind8 --rounds 1000 --seeds 0 tb logit-ls logit-ls/lr=1e-4
    python bench/tuning.py --table --csv bench/tuning/results.csv
"""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
from harness import median, parser

FIELDS = ["task", "recipe", "seed", "round", "reward_calls", "modes", "top100_seen", "top100_final",
          "diversity_final", "wall_s", "command"]


def parse_recipe(spec: str) -> dict:
    """``method/field=value/...`` -> TrainConfig keyword arguments."""
    from molgfn.bench import METHODS
    from molgfn.config import TrainConfig

    base, *parts = spec.split("/")
    if base not in METHODS:
        raise SystemExit(f"recipe {spec!r}: unknown method {base!r}; choose from {', '.join(METHODS)}")
    kw = dict(METHODS[base])
    known = set(TrainConfig.__dataclass_fields__)
    for p in parts:
        key, sep, value = p.partition("=")
        if not sep or key not in known:
            raise SystemExit(f"recipe {spec!r}: {p!r} is not FIELD=VALUE with a TrainConfig field")
        for cast in (int, float, str):
            try:
                kw[key] = cast(value)
                break
            except ValueError:
                continue
    return kw


def run(task_name: str, spec: str, seed: int, rounds: int, at: list[int], command: str) -> list[dict]:
    import torch
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.metrics import top_k_report
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)
    opts = {"workers": 1} if task_name.startswith("rna") else {}
    task = get_task(task_name, **opts)
    kw = parse_recipe(spec)
    late_modes = task.num_modes() is None  # RNA: no enumerated set; count after training
    cfg = TrainConfig(task=task_name, task_options=opts, rounds=rounds, seed=seed, device="cpu",
                      track_modes=not late_modes, **kw)
    tr = Trainer(cfg, task)
    rows: list[dict] = []
    t0 = time.perf_counter()

    def on_round(row: dict) -> None:
        if row["round"] in at or row["round"] == rounds:
            top = sorted(tr.seen.raw.values(), reverse=True)[:100]
            rows.append({"task": task_name, "recipe": spec, "seed": seed, "round": row["round"],
                         "reward_calls": row["reward_calls"], "modes": row["modes"],
                         "top100_seen": float(np.mean(top)), "wall_s": time.perf_counter() - t0})

    tr.train(on_round=on_round)
    if late_modes:  # the task's mode rule over every object seen (its neighbour calls are not budgeted)
        objs = list(tr.seen.raw)
        mask = task.mode_mask(task.env.from_strings(objs)).numpy()
        first = np.array([tr.seen.first_round[o] for o in objs])
        for r in rows:  # an object first seen in round j (0-based) was seen by round j + 1
            r["modes"] = int(mask[first < r["round"]].sum())
    samples = tr.sample(1000, beta=1.0)
    final_raw = task.score_tokens(samples.cpu()).tolist()
    rep = top_k_report(tr.env.to_strings(samples), final_raw, 100, smiles_fn=task.smiles,
                       molecules=task.object_column == "smiles")
    div = rep.get("top_k_diversity_levenshtein", rep.get("top_k_diversity_tanimoto"))
    rows[-1].update({"top100_final": rep["top_k_mean_raw"], "diversity_final": div})
    task.close()
    for r in rows:
        r["command"] = command
    return rows


def append_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in FIELDS})
        f.flush()
        os.fsync(f.fileno())


def table(paths: list[Path], round_: int | None = None, min_seeds: int = 1) -> str:
    """Markdown: per task, recipe and checkpoint round, median modes over seeds with each seed's value."""
    import pandas as pd

    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    df = df[df.groupby(["task", "recipe"])["seed"].transform("nunique") >= min_seeds]
    lines = []
    for task, dt in df.groupby("task", sort=False):
        rounds = sorted(dt["round"].unique()) if round_ is None else [round_]
        lines += [f"### {task}", "", "| recipe | seeds | " + " | ".join(
            f"modes @ {r} rounds" for r in rounds) + " | top-100 seen | top-100 final | diversity final |",
            "|---|---|" + "---|" * (len(rounds) + 3)]
        # rank by the median modes at the last round every recipe reached
        common = max(set.intersection(*(set(d["round"]) for _, d in dt.groupby("recipe"))), default=None)
        summary = []
        for recipe, dr in dt.groupby("recipe", sort=False):
            cells = []
            key = median(dr[dr["round"] == common]["modes"]) if common is not None else 0.0
            for r in rounds:
                v = dr[dr["round"] == r]["modes"].tolist()
                cells.append(f"{median(v):g} ({', '.join(f'{x:g}' for x in v)})" if v else "")
            seen = dr[dr["round"] == common]["top100_seen"] if common is not None else dr["top100_seen"]
            last = dr.loc[dr.groupby("seed")["round"].idxmax()]  # each run's end: the final-sample metrics
            tail = [f"{col.median():.4g}" if col.notna().any() else ""
                    for col in (seen, last["top100_final"], last["diversity_final"])]
            summary.append((key, f"| `{recipe}` | {dr['seed'].nunique()} | " + " | ".join(cells + tail) + " |"))
        lines += [s for _, s in sorted(summary, key=lambda x: -x[0])] + [""]
    cmds = list(dict.fromkeys(df["command"].dropna()))
    lines += ["commands:", ""] + [f"    {c}" for c in cmds]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = parser(__doc__, first="paragraph")
    ap.add_argument("recipes", nargs="*", help="method[/FIELD=VALUE...], e.g. logit-ls/lr=1e-4/grad_steps=2")
    ap.add_argument("--task", default="tfbind8")
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--at", default="", help="extra rounds to record, comma-separated (e.g. 250,500)")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--csv", type=Path, action="append",
                    help="CSV to append to (default bench/tuning/results.csv); with --table, repeatable")
    ap.add_argument("--table", action="store_true", help="print the Markdown summary of --csv and stop")
    ap.add_argument("--min-seeds", type=int, default=1, help="--table: only recipes run with this many seeds")
    a = ap.parse_args()
    paths = a.csv or [Path("bench/tuning/results.csv")]
    if a.table:
        sys.stdout.write(table(paths, min_seeds=a.min_seeds))
        return
    command = "python bench/tuning.py " + " ".join(sys.argv[1:])
    at = [int(x) for x in a.at.split(",") if x]
    for spec in a.recipes:
        parse_recipe(spec)  # fail before any training
    for seed in [int(s) for s in a.seeds.split(",")]:
        for spec in a.recipes:
            rows = run(a.task, spec, seed, a.rounds, at, command)
            append_rows(paths[0], rows)
            last = rows[-1]
            print(f"{a.task} {spec} seed {seed}: modes {last['modes']} top100 {last['top100_seen']:.4g} "
                  f"{last['wall_s']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
