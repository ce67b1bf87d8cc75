"""Threads under load: one tfbind8 run's rounds timed with the CLI's default thread count
(``molgfn.threads.pick_threads``), with one thread, and with torch's own default (one per core,
what the CLI used before), while busy-loop processes hog the CPUs.

    python bench/threads_load.py --hogs 4 --repeats 10

The three settings take turns in the same run (interleaved repeats: per turn one untimed round
after the thread count changes, then two timed ones), so load that comes and goes hits them
alike; the table gives each one's median round time and its ratio to one thread (the CLI's
default must stay within 1.2x of one thread). Prints a Markdown table.
"""

from __future__ import annotations

import os

from harness import busy_loops, interleave, median, parser, print_table


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--hogs", type=int, default=4, help="busy-loop processes")
    ap.add_argument("--repeats", type=int, default=10, help="turns per setting (two timed rounds each)")
    ap.add_argument("--task", default="tfbind8")
    args = ap.parse_args()

    import torch
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.threads import pick_threads, usable_cpus
    from molgfn.trainer import Trainer

    torch_default = torch.get_num_threads()  # before anything sets it: one per core
    task = get_task(args.task)
    cfg = TrainConfig(task=args.task, rounds=10**6, device="cpu", track_modes=False, seed=0)
    chosen, why = pick_threads(cfg, task.env)
    settings = {f"CLI default ({chosen})": chosen, "1 thread": 1, f"torch default ({torch_default})": torch_default}
    tr = Trainer(cfg, task)
    for _ in range(3):  # warm-up: first-call costs (allocations, kernels) out of the timings
        tr.train_round()

    def change(name: str) -> None:
        torch.set_num_threads(settings[name])
        tr.train_round()  # untimed: the first round after a change of thread count pays for the change

    with busy_loops(args.hogs):
        times = interleave(dict.fromkeys(settings, tr.train_round), args.repeats, per_turn=2, before=change)
    one = median(times["1 thread"])
    cpus, limit = usable_cpus()
    print(f"task {args.task}, {args.hogs} busy-loop processes, {args.repeats} interleaved rounds per setting, "
          f"{os.cpu_count()} cores ({cpus} usable: {limit}); the CLI's choice: {chosen} ({why})\n")
    print_table(["threads", "median round ms", "ratio to 1 thread"],
                [(name, f"{median(times[name]) * 1e3:.0f}", f"{median(times[name]) / one:.2f}") for name in settings])


if __name__ == "__main__":
    main()
