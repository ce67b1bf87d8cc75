"""How many reward calls does a filtered fragment run spend on molecules its filters reject?

A rejected molecule costs no oracle call (it gets the floor reward) but it is a sample, a
reward call of the budget, that cannot become a candidate. This trains qed-frag (or another
fragment task) with ``--filter pains,brenk,lipinski`` for each setting and seed and prints one
markdown row per setting: the share of all reward calls that went to rejects, the share in the
last quarter of the rounds, and the best raw score.

Settings: ``floor`` (rejects get the floor reward, no mask: as before), ``mask`` (the default
now: blocks whose own alert fails a filter are masked in the environment,
``molgfn.fragtask.alert_blocks``) and ``penalty=P`` (no mask; rejects get log R(floor) - P nats).

    MOLGFN_DATA=../shared/data OMP_NUM_THREADS=1 .venv/bin/python bench/filter_rejects.py \\
        --task qed-frag --rounds 150 --seeds 0 1 --settings floor mask
"""

from __future__ import annotations

import time

import torch
from harness import command, parser, print_row, print_table
from molgfn.tasks import get_task

from molgfn.config import TrainConfig
from molgfn.fragtask import FragmentTask
from molgfn.trainer import Trainer


def with_penalty(task, penalty: float) -> None:
    """Rejected molecules get log R(floor) - ``penalty`` (tried, not kept: see bench/CHEM.md)."""
    evaluate = task.evaluate

    def penalised(states):
        raw, logr = evaluate(states)
        bad = [bool(f) for f in task.failed_filters(task.env.to_strings(states))]
        return raw, logr - penalty * torch.tensor(bad, dtype=logr.dtype)

    task.evaluate = penalised


def run(task_name: str, filters: str, setting: str, seed: int, rounds: int, batch: int) -> dict:
    FragmentTask.mask_alert_blocks = setting == "mask"
    try:
        task = get_task(task_name, filters=filters)
    finally:
        FragmentTask.mask_alert_blocks = True
    if setting.startswith("penalty="):
        with_penalty(task, float(setting.split("=", 1)[1]))
    elif setting not in ("floor", "mask"):
        raise SystemExit(f"unknown setting {setting!r}")
    cfg = TrainConfig(task=task_name, rounds=rounds, batch_size=batch, seed=seed, device="cpu")
    t0 = time.perf_counter()
    tr = Trainer(cfg, task)
    tr.train()
    m = tr.metrics
    q = max(1, rounds // 4)
    last_calls = m[-1]["reward_calls"] - m[-q - 1]["reward_calls"]
    last_rej = m[-1]["filtered"] - m[-q - 1]["filtered"]
    return {"setting": setting, "seed": seed, "calls": m[-1]["reward_calls"],
            "rejected": m[-1]["filtered"] / m[-1]["reward_calls"], "rejected_last": last_rej / last_calls,
            "best": tr._best_raw, "s": time.perf_counter() - t0,
            "by": ", ".join(f"{f} {n}" for f, n in task.filter_counts.items() if f != "filtered")}


def main() -> None:
    ap = parser(seeds=[0, 1])
    ap.add_argument("--task", default="qed-frag")
    ap.add_argument("--filters", default="pains,brenk,lipinski")
    ap.add_argument("--rounds", type=int, default=150)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--settings", nargs="+", default=["floor", "mask"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    print_table(["setting", "seed", "reward calls", "on rejects (all rounds)", "on rejects (last quarter)", "best raw",
                 "s", "rejected by (first failing filter)"], head=f"`{command('')}`")
    for setting in args.settings:
        for seed in args.seeds:
            r = run(args.task, args.filters, setting, seed, args.rounds, args.batch)
            print_row(r["setting"], r["seed"], r["calls"], f"{r['rejected']:.0%}", f"{r['rejected_last']:.0%}",
                      f"{r['best']:.3f}", f"{r['s']:.0f}", r["by"])


if __name__ == "__main__":
    main()
