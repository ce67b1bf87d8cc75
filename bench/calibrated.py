"""Calibrated recipes (issue 18): modes per reward call beside each sampler's calibration.

A mode count ranks samplers only among those that sample what they claim: a log Z that has not
converged makes a sampler sharper than R^beta / Z and so find more modes than an exact sampler of
its target could. Every row here therefore carries, beside the modes discovered in training, what
`molgfn evaluate RUN --format json` reports after it (the same function, ``evaluate_trainer``, with
1,000 samples drawn with seed 0): on enumerable tasks the exact L1 distance to R^beta / Z and
the signed log Z error (learned - exact), and on every task the importance-sampled one (learned -
IS estimate, with its standard error and effective sample size).

Calibration is measured against the sampler's own target: a sampler trained at one inverse
temperature (plain TB with ``beta_dist=fixed:B``, trained on R^B) at that beta; a temperature-conditional
one (Logit-GFN, beta ~ U[LO, HI]) at both ends of its range, the row keeping the end with the larger
|log Z error| (column ``beta_eval``, e.g. "3 (of 1, 3)").

A recipe is ``design`` (the task's `molgfn design` default recipe, ``Task.design_defaults``, over
`molgfn train`'s option defaults) or a `molgfn bench` method, each optionally followed by
``/FIELD=VALUE`` overrides of TrainConfig fields (as in bench/tuning.py), e.g. ``tb/logz_init=zero``
(plain TB with log Z starting at 0, as before issue 18) or ``logit-ls/lr_logz=0.1``.

    nice -n 10 python bench/calibrated.py --task qm9str --rounds 500 --seeds 0,1,2 tb tb/logz_init=zero
    python bench/calibrated.py --table --csv bench/tuning/calibrated.csv
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from pathlib import Path

from harness import median, parser

FIELDS = ["task", "recipe", "seed", "rounds", "reward_calls", "modes", "l1", "log_z_learned", "log_z_exact",
          "log_z_error", "is_log_z", "is_log_z_se", "is_ess", "is_log_z_error", "wall_s", "command", "beta_eval"]
CALIBRATION = ["l1", "log_z_learned", "log_z_exact", "log_z_error", "is_log_z", "is_log_z_se", "is_ess",
               "is_log_z_error"]


def recipe_config(task_name: str, spec: str) -> dict:
    """TrainConfig keyword arguments of a recipe: ``design[/...]`` or ``method[/...]``."""
    from tuning import parse_recipe

    if spec == "design" or spec.startswith("design/"):
        from molgfn.tasks import registry

        kw = dict(getattr(registry()[task_name], "design_defaults", {}))
        rest = spec[len("design"):]
        return {**kw, **(parse_recipe("tb" + rest) if rest else {})}
    return parse_recipe(spec)


def eval_betas(tr) -> list[float]:
    """The inverse temperatures a sampler's calibration is measured at: its own target's. A sampler trained
    at one beta (plain TB on R^beta) at that beta; a temperature-conditional one trained on a range at both
    ends of the range (every beta in it is a target it claims to sample)."""
    vals = list(tr.beta_dist.vals)
    return vals if tr.cfg.conditioning != "none" and not tr.beta_dist.is_fixed else [tr.sampling_beta(None)]


def calibration_at(tr, beta: float) -> dict:
    """What `evaluate_trainer` (1,000 samples, seed 0) reports on calibration at ``beta``, without its
    mode count and top-k (the same draws: its seed, its sampler)."""
    from molgfn.calibration import summary_of
    from molgfn.evaluation import sample_for_evaluation
    from molgfn.exact import distribution_report
    from molgfn.task import TabularSequenceTask

    tr.gen.manual_seed(0)
    _, trajs = sample_for_evaluation(tr, 1000, beta)
    raw = tr.task.score_tokens(trajs.terminals.cpu())
    out = summary_of(tr.env, tr.policy, trajs.with_reward(tr.task.log_reward(raw.double()).to(tr.device)))
    if isinstance(tr.task, TabularSequenceTask):
        out.update(distribution_report(tr.env, tr.policy, tr.task.log_reward(tr.task.table).to(tr.device), beta))
    return out


def _signed(ev: dict) -> dict:
    if "log_z_exact" in ev:  # evaluate's log_z_error is signed (learned - exact); recomputed for CSVs of before
        ev = {**ev, "log_z_error": ev["log_z_learned"] - ev["log_z_exact"]}
    return ev


def run(task_name: str, spec: str, seed: int, rounds: int, command: str) -> dict:
    import torch
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.evaluation import evaluate_trainer
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)
    opts = {"workers": 1} if task_name.startswith("rna") else {}
    task = get_task(task_name, **opts)
    late_modes = task.num_modes() is None and getattr(task, "modes_among", None) is not None  # RNA: after training
    cfg = TrainConfig(task=task_name, task_options=opts, rounds=rounds, seed=seed, device="cpu",
                      **({"track_modes": False} if late_modes else {}), **recipe_config(task_name, spec))
    tr = Trainer(cfg, task)
    t0 = time.perf_counter()
    tr.train()
    wall = time.perf_counter() - t0
    betas = eval_betas(tr)
    tr.gen.manual_seed(0)  # as `molgfn evaluate` (its --seed 0) before its 1,000 samples
    ev = _signed(evaluate_trainer(tr, n=1000, beta=betas[0], k=100))
    row = {k: ev.get(k, math.nan) for k in FIELDS if k in ev}
    for b in betas[1:]:  # the calibration at the range's other end; the row keeps the worse of the two
        other = _signed(calibration_at(tr, b))
        key = "log_z_error" if "log_z_exact" in other else "is_log_z_error"
        if abs(other[key]) > abs(row[key]):
            row.update({k: other.get(k, math.nan) for k in CALIBRATION})
            row["beta_eval"] = b
    task.close()
    row.setdefault("beta_eval", betas[0])
    row["beta_eval"] = f"{row['beta_eval']:g}" + (f" (of {', '.join(f'{b:g}' for b in betas)})"
                                                  if len(betas) > 1 else "")
    row.update({"task": task_name, "recipe": spec, "seed": seed, "rounds": rounds, "modes": ev["modes_found"],
                "reward_calls": ev["reward_calls"], "wall_s": wall, "command": command})
    return row


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in FIELDS})
        f.flush()
        os.fsync(f.fileno())


def _cell(values: list[float], fmt: str, worst: bool = False) -> str:
    """The median over seeds (``worst``: the value of largest magnitude), then each seed's value."""
    vals = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return ""
    head = max(vals, key=abs) if worst else median(vals)
    return f"{head:{fmt}} ({', '.join(f'{v:{fmt}}' for v in vals)})"


def table(paths: list[Path]) -> str:
    """Markdown per task and budget: one row per recipe (medians over seeds, each seed's value in brackets;
    for the log Z error the seed furthest from 0), calibrated ones first, each group ranked by modes per
    1,000 reward calls; 'calibrated' when every seed's |log Z error| (exact where the task is enumerable,
    else the importance-sampled one) is at most 0.5."""
    import pandas as pd

    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    lines = []
    for (task, rounds), dt in df.groupby(["task", "rounds"], sort=False):
        exact = dt["log_z_error"].notna().any()
        at = "beta_eval" in dt and dt["beta_eval"].notna().any()  # the beta(s) the calibration is measured at
        err = "log Z error, learned - exact (worst)" if exact else "IS log Z error, learned - IS (worst) [SE]"
        lines += [f"### {task}, {rounds} rounds", "",
                  "| recipe | seeds | reward calls | modes | modes / 1k calls | "
                  + ("calibration at beta (worst) | " if at else "") + ("L1 | " if exact else "")
                  + f"{err} | IS ESS / 1000 | calibrated |",
                  "|---|---|---|---|---|" + ("---|" if at else "") + ("---|" if exact else "") + "---|---|---|"]
        rows = []
        for recipe, dr in dt.groupby("recipe", sort=False):
            dr = dr.sort_values("seed")
            calls = int(dr["reward_calls"].median())
            key = dr["modes"].median() / calls * 1000
            e = dr["log_z_error"] if exact else dr["is_log_z_error"]
            ok = bool((e.abs() <= 0.5).all())
            ecell = _cell(e.tolist(), "+.2f", worst=True)
            if not exact:
                ecell += f" [{dr['is_log_z_se'].median():.2f}]"
            where = [", ".join(dict.fromkeys(dr["beta_eval"].dropna().astype(str)))] if at else []
            cells = [f"`{recipe}`", str(dr["seed"].nunique()), f"{calls:,}", _cell(dr["modes"].tolist(), "g"),
                     f"{key:.1f}"] + where + ([_cell(dr["l1"].tolist(), ".2f")] if exact else []) + [
                ecell, f"{dr['is_ess'].median():.0f}", "yes" if ok else "**no**"]
            rows.append((ok, key, "| " + " | ".join(cells) + " |"))
        lines += [r for *_, r in sorted(rows, key=lambda x: (not x[0], -x[1]))] + [""]
    cmds = list(dict.fromkeys(df["command"].dropna()))
    lines += ["commands:", ""] + [f"    {c}" for c in cmds]
    return "\n".join(lines) + "\n"


def _summary(dr, exact: bool) -> dict:
    e = dr["log_z_error"] if exact else dr["is_log_z_error"]
    calls = int(dr["reward_calls"].median())
    return {"seeds": dr["seed"].nunique(), "calls": calls, "modes": dr["modes"].median(),
            "key": dr["modes"].median() / calls * 1000, "ok": bool((e.abs() <= 0.5).all()), "e": e.tolist(),
            "all": dr.sort_values("seed")["modes"].tolist()}


def best_table(paths: list[Path], min_seeds: int = 3) -> str:
    """Markdown per task and budget: each method (the recipe before its first '/') at its best setting, the
    one with the most median modes among its settings calibrated on every seed (run on at least
    ``min_seeds`` seeds), ranked by modes per 1,000 reward calls."""
    import pandas as pd

    df = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    lines = []
    for (task, rounds), dt in df.groupby(["task", "rounds"], sort=False):
        exact = dt["log_z_error"].notna().any()
        best: dict[str, tuple] = {}
        methods = list(dict.fromkeys(r.split("/")[0] for r in dt["recipe"]))
        for recipe, dr in dt.groupby("recipe", sort=False):
            s = _summary(dr, exact)
            method = recipe.split("/")[0]
            if s["ok"] and s["seeds"] >= min_seeds and (method not in best or s["modes"] > best[method][1]["modes"]):
                best[method] = (recipe, s)
        missing = [m for m in methods if m not in best]
        if not best:
            continue
        err = "log Z error, learned - exact (worst)" if exact else "IS log Z error, learned - IS (worst)"
        lines += [f"### {task}, {rounds} rounds: each method at its best calibrated setting", "",
                  f"| method | best setting | seeds | reward calls | modes | modes / 1k calls | {err} |",
                  "|---|---|---|---|---|---|---|"]
        for method, (recipe, s) in sorted(best.items(), key=lambda kv: -kv[1][1]["key"]):
            setting = recipe[len(method) + 1:] or "(default)"
            modes = f"{s['modes']:g} ({', '.join(f'{m:g}' for m in s['all'])})"
            lines.append(f"| `{method}` | `{setting}` | {s['seeds']} | {s['calls']:,} | {modes} | {s['key']:.1f} "
                         f"| {_cell(s['e'], '+.2f', worst=True)} |")
        if missing:
            lines.append(f"| {', '.join(f'`{m}`' for m in missing)} | no setting calibrated on {min_seeds}+ seeds "
                         "| | | | | |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = parser(__doc__, first="paragraph")
    ap.add_argument("recipes", nargs="*", help="design or a method, then /FIELD=VALUE..., e.g. tb/logz_init=zero")
    ap.add_argument("--task", default="qm9str")
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--csv", type=Path, action="append",
                    help="CSV to append to (default bench/tuning/calibrated.csv); with --table, repeatable")
    ap.add_argument("--table", action="store_true", help="print the Markdown summary of --csv and stop")
    ap.add_argument("--best", action="store_true",
                    help="with --table: each method at its best setting calibrated on 3+ seeds, ranked")
    a = ap.parse_args()
    paths = a.csv or [Path("bench/tuning/calibrated.csv")]
    if a.table:
        sys.stdout.write(best_table(paths) if a.best else table(paths))
        return
    argv = sys.argv[1:]
    for i in [i for i, x in enumerate(argv) if x == "--csv"][::-1]:  # where rows go is not how they were made
        del argv[i:i + 2]
    command = "python bench/calibrated.py " + " ".join(x for x in argv if not x.startswith("--csv="))
    for spec in a.recipes:
        recipe_config(a.task, spec)  # fail before any training
    for seed in [int(s) for s in a.seeds.split(",")]:
        for spec in a.recipes:
            row = run(a.task, spec, seed, a.rounds, command)
            append_row(paths[0], row)
            print(f"{a.task} {spec} seed {seed}: modes {row['modes']} L1 {row.get('l1', math.nan):.3f} "
                  f"log Z err {row.get('log_z_error', math.nan):+.3f} IS err {row['is_log_z_error']:+.3f} "
                  f"{row['wall_s']:.0f}s", flush=True)


if __name__ == "__main__":
    main()
