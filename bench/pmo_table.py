"""PMO's table from the results of several `molgfn bench --preset pmo` calls (issue 19, bench/PMO.md).

The preset is long (20 oracles x 3 seeds at 10,000 calls), so it is often run in parts: one call per
task and seed, each with its own --out. This merges their results.csv files (and optionally an earlier
merged CSV) into one CSV, keeping the first row of each (task, method, seed), and prints
``molgfn.bench.pmo_markdown`` of it: ours (mean +- std over seeds, each seed) beside the published rows.

    .venv/bin/python bench/pmo_table.py --into bench/pmo_results.csv bench/pmo_results.csv RUN_DIR ...
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from harness import command, parser

from molgfn.bench import pmo_markdown


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("sources", nargs="+", help="results.csv files, or bench --out folders holding one")
    ap.add_argument("--into", default=None, help="write the merged rows to this CSV")
    args = ap.parse_args()
    frames = []
    for src in map(Path, args.sources):
        f = src / "results.csv" if src.is_dir() else src
        if not f.is_file():
            raise SystemExit(f"{src}: no results.csv")
        frames.append(pd.read_csv(f))
    df = pd.concat(frames, ignore_index=True).drop_duplicates(subset=["task", "method", "seed"], keep="first")
    df = df.sort_values(["task", "method", "seed"]).reset_index(drop=True)
    if args.into:
        tmp = Path(args.into).with_suffix(".tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(args.into)
    print(f"`{command()}`")
    print(pmo_markdown(df))
    seeds = df.groupby("task")["seed"].nunique()
    per_task = ", ".join(f"{t.removeprefix('pmo-')} {n}" for t, n in seeds.items())
    print(f"{len(seeds)} tasks; seeds per task: {per_task}")


if __name__ == "__main__":
    main()
