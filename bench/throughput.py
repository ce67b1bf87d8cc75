"""Training throughput: median ms per round, reward calls per second, peak memory.

Rounds of 32 on-policy + 32 replayed trajectories, 3 gradient steps, MLP width 128 (the
LS-GFN authors' TFBind8 settings). Each configuration runs in a fresh process so its peak
RSS is its own. Reference (LS-GFN authors' code, same settings, a 2-core machine like this):
~4.4 s/round TB, ~3.7 s/round LS-GFN, ~620 MB peak.

    MOLGFN_DATA=../shared/data .venv/bin/python bench/throughput.py [--rounds 100] [--repeats 3]

``--gfnx`` instead measures the settings of gfnx's single-file TB baseline (batch 32, no replay,
1 gradient step, width 128, epsilon 0.01; qm9str at width 1,024): CPU and wall ms per iteration after
warm-up, and the whole ``molgfn train --rounds 2000`` process (imports included), for this checkout,
- with ``--baseline DIR`` - another checkout, and gfnx itself (``bench/peers/gfnx_tfbind8_tb.py`` on
molgfn's reward tables, run by the Python of a venv with gfnx 0.0.1: ``$GFNX_PYTHON``, default
/work/gfnx-venv/bin/python), each in fresh processes, interleaved, one thread each.

``--recipes`` gives the CPU ms per round of the recipes users run (TB, TB + LS, and ``design``'s
Logit-GFN + LS) at the LS-GFN settings on tfbind8 and qm9str, for this checkout and ``--baseline DIR``.

``--parts`` times each part of a tfbind8 iteration at those settings (rollout, reward, scoring,
loss, backward, Adam step, whole round), for this checkout and ``--baseline DIR``.

``--process`` measures only what is not the training step, at the same settings: the whole
``train --rounds 2000`` process (wall and CPU), the CLI's imports, the task set-up (the tfbind8
table) and one checkpoint (logs synced + checkpoint.pt written), for this checkout and
``--baseline DIR``, interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from harness import child, command, median, parser, print_table

# (task, label, local search, hidden width, grad steps): the LS-GFN paper's settings per task
CONFIGS = [
    ("tfbind8", "tb", False, 128, 3),
    ("tfbind8", "tb+ls", True, 128, 3),
    ("rna1", "tb", False, 128, 3),
    ("rna1", "tb+ls", True, 128, 3),
    ("qm9str", "tb", False, 1024, 1),
    ("qm9str", "tb+ls", True, 1024, 1),
]


def one(task: str, ls: bool, hidden: int, grad_steps: int, rounds: int, seed: int, threads: int = 1) -> dict:
    import resource

    import torch
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    torch.set_num_threads(threads)
    t = get_task(task)
    # RNA's mode check (42 extra oracle calls per candidate above threshold) is a metric, not training
    cfg = TrainConfig(task=task, rounds=rounds, local_search=ls, seed=seed, device="cpu", hidden=hidden,
                      grad_steps=grad_steps, track_modes=not task.startswith("rna"))
    tr = Trainer(cfg, t)
    tr.train_round()  # warm-up: lazy tables, worker processes
    t0 = time.perf_counter()
    times = []
    calls0 = tr.reward_calls
    for _ in range(rounds):
        s = time.perf_counter()
        tr.train_round()
        times.append(time.perf_counter() - s)
    wall = time.perf_counter() - t0
    t.close()
    n = t.num_modes()
    return {
        "median_ms": median(times) * 1e3,
        "calls_per_s": (tr.reward_calls - calls0) / wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "modes": len(tr.modes_found) if n and cfg.track_modes else None,
        "reward_calls": tr.reward_calls,
    }


def per_iteration(task: str, hidden: int, rounds: int) -> dict:
    """Median CPU and wall ms per training iteration at gfnx's TB settings (after 20 warm-up rounds)."""
    import torch

    sys.path.insert(0, ROOT)
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)
    cfg = TrainConfig(task=task, rounds=10**9, batch_size=32, replay_size=0, grad_steps=1, hidden=hidden,
                      epsilon=0.01, track_modes=False, device="cpu", checkpoint_every=10**9)
    tr = Trainer(cfg, get_task(task))
    for _ in range(20):
        tr.train_round()
    cpu, wall = [], []
    for _ in range(5):
        c, w = time.process_time(), time.perf_counter()
        for _ in range(rounds // 5):
            tr.train_round()
        cpu.append((time.process_time() - c) / (rounds // 5) * 1e3)
        wall.append((time.perf_counter() - w) / (rounds // 5) * 1e3)
    return {"cpu_ms": median(cpu), "wall_ms": median(wall)}


def whole_process(tree: str, rounds: int, out: str) -> dict:
    """Wall and CPU seconds of a whole `molgfn train` process at gfnx's tfbind8 TB settings."""
    import resource

    args = [sys.executable, os.path.join(tree, "cli.py"), "train", "--task", "tfbind8", "--rounds", str(rounds),
            "--batch-size", "32", "--replay-size", "0", "--grad-steps", "1", "--hidden", "128", "--epsilon", "0.01",
            "--no-track-modes", "--device", "cpu", "--out", out, "--quiet"]
    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def phases(tree: str) -> dict:
    """CPU / wall ms of the non-training parts of `molgfn train --task tfbind8`, in a fresh process."""
    import tempfile
    from pathlib import Path

    sys.path.insert(0, tree)
    c0, w0 = time.process_time(), time.perf_counter()
    import torch
    from molgfn.tasks import get_task

    import cli  # noqa: F401  (what `molgfn train` imports before it builds the task)
    from molgfn.api import train  # noqa: F401
    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    c1, w1 = time.process_time(), time.perf_counter()
    task = get_task("tfbind8")
    task.table  # noqa: B018  (parsed on first use)
    c2, w2 = time.process_time(), time.perf_counter()
    torch.set_num_threads(1)
    cfg = TrainConfig(task="tfbind8", rounds=10**9, batch_size=32, replay_size=0, grad_steps=1, hidden=128,
                      epsilon=0.01, track_modes=False, device="cpu", checkpoint_every=10**9)
    with tempfile.TemporaryDirectory() as d:
        tr = Trainer(cfg, task, Path(d))  # the optimiser's first use imports torch._dynamo (torch's cost)
        c3, w3 = time.process_time(), time.perf_counter()
        tr.checkpoint()
        ck_cpu, ck_wall = [], []
        for _ in range(20):
            for _ in range(50):  # a checkpoint covers --checkpoint-every (50) rounds of logs
                tr.train_round()
            c, w = time.process_time(), time.perf_counter()
            tr.checkpoint()
            ck_cpu.append(time.process_time() - c)
            ck_wall.append(time.perf_counter() - w)
        tr.close_logs()
    return {"import_cpu": c1 - c0, "import_wall": w1 - w0, "task_cpu": c2 - c1, "task_wall": w2 - w1,
            "trainer_cpu": c3 - c2, "trainer_wall": w3 - w2, "ckpt_cpu": median(ck_cpu),
            "ckpt_wall": median(ck_wall)}


def process_table(a) -> None:
    import shutil
    import tempfile

    trees = {"this checkout": ROOT}
    if a.baseline:
        trees["baseline"] = os.path.abspath(a.baseline)
    res: dict = {k: [] for k in trees}
    for _ in range(a.repeats):
        for k, tree in trees.items():
            d = tempfile.mkdtemp()
            try:
                r = whole_process(tree, a.rounds, os.path.join(d, "run"))
            finally:
                shutil.rmtree(d)
            r.update(child([__file__, "--phases", tree], env={"OMP_NUM_THREADS": "1"}))
            res[k].append(r)
            print(k, {f: round(v, 3) for f, v in r.items()}, file=sys.stderr, flush=True)

    def med(k, f, scale=1.0):
        return scale * median(r[f] for r in res[k])

    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    print(f"# whole `molgfn train --task tfbind8` process at gfnx's settings ({a.rounds} rounds; {a.repeats} "
          "interleaved repeats, medians; 1 torch thread; a shared machine)\n")
    print(f"command: `{cmd.strip()}`\n")
    print("| checkout | process s CPU (wall) | imports ms CPU (wall) | task set-up ms CPU (wall) | trainer set-up "
          "ms CPU (wall) | one checkpoint ms CPU (wall) |")
    print("|---|---|---|---|---|---|")
    for k in trees:
        print(f"| {k} | {med(k, 'cpu_s'):.1f} ({med(k, 'wall_s'):.1f}) | {med(k, 'import_cpu', 1e3):.0f} "
              f"({med(k, 'import_wall', 1e3):.0f}) | {med(k, 'task_cpu', 1e3):.0f} ({med(k, 'task_wall', 1e3):.0f}) | "
              f"{med(k, 'trainer_cpu', 1e3):.0f} ({med(k, 'trainer_wall', 1e3):.0f}) | "
              f"{med(k, 'ckpt_cpu', 1e3):.1f} ({med(k, 'ckpt_wall', 1e3):.1f}) |")


def rna_round(rounds: int) -> None:
    """RNA1 with the trainer's default settings (as `design`): median round time against the time
    spent in the oracle (ViennaRNA duplexfold, with its cache and process pool) in the same rounds."""
    import torch

    sys.path.insert(0, ROOT)
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)
    task = get_task("rna1")
    tr = Trainer(TrainConfig(task="rna1", rounds=10**9, device="cpu", checkpoint_every=10**9), task)
    spent = [0.0]
    raw = task.raw_scores

    def timed(seqs):
        t = time.perf_counter()
        try:
            return raw(seqs)
        finally:
            spent[0] += time.perf_counter() - t

    task.raw_scores = timed
    tr.train_round()
    rows = []
    for _ in range(rounds):
        spent[0] = 0.0
        t = time.perf_counter()
        tr.train_round()
        rows.append((time.perf_counter() - t, spent[0]))
    task.close()
    total = median(r[0] for r in rows) * 1e3
    oracle = median(r[1] for r in rows) * 1e3
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    print_table(["task, settings", "ms / round", "of which oracle (ms)", "round / oracle"],
                [(f"rna1, trainer defaults (batch {tr.cfg.batch_size}, replay {tr.cfg.replay_size}, "
                  f"{tr.cfg.grad_steps} grad steps, width {tr.cfg.hidden})", f"{total:.1f}", f"{oracle:.1f}",
                  f"{total / max(oracle, 1e-9):.2f}")], head=f"command: `{cmd}`")


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--tree" in sys.argv:
    ROOT = os.path.abspath(sys.argv[sys.argv.index("--tree") + 1])


GFNX_PY = os.environ.get("GFNX_PYTHON", "/work/gfnx-venv/bin/python")  # a venv with gfnx 0.0.1 (JAX)
GFNX_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "gfnx_tfbind8_tb.py")
# one thread for both tools: torch via set_num_threads / OMP, XLA via its CPU flags
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def gfnx_run(args: list[str]) -> dict:
    """One fresh gfnx process (bench/peers/gfnx_tfbind8_tb.py): its JSON line, and for a whole run
    the CPU and wall time of the process as seen from outside (imports and compilation included)."""
    import resource

    env = dict(os.environ, **ONE_THREAD)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([GFNX_PY, GFNX_SCRIPT, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"gfnx run failed ({GFNX_PY} {GFNX_SCRIPT} {' '.join(args)}):\n{out.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["proc_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    r["proc_wall_s"] = wall
    return r


def round_parts(rounds: int) -> dict:
    """CPU microseconds of each part of a tfbind8 iteration at gfnx's settings, timed part by part
    (rollout, reward lookup, scoring forward, loss, backward, optimiser step), and of a whole
    ``train_round`` (the parts plus the trainer's bookkeeping), after 50 warm-up rounds."""
    import torch

    sys.path.insert(0, ROOT)
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.sampling import sample_forward
    from molgfn.trainer import Trainer
    from molgfn.trajectories import score

    torch.set_num_threads(1)
    cfg = TrainConfig(task="tfbind8", rounds=10**9, batch_size=32, replay_size=0, grad_steps=1, hidden=128,
                      epsilon=0.01, track_modes=False, device="cpu", checkpoint_every=10**9)
    tr = Trainer(cfg, get_task("tfbind8"))
    for _ in range(50):
        tr.train_round()
    names = ("rollout", "reward", "score", "loss", "backward", "step", "train_round")
    acc = dict.fromkeys(names, 0.0)
    beta = torch.ones(32)
    for _ in range(rounds):
        c = [time.process_time()]
        t = sample_forward(tr.env, tr.policy, beta, 0.01, gen=tr.gen)
        c.append(time.process_time())
        t = t.with_reward(tr.task.evaluate(t.terminals)[1].float())
        c.append(time.process_time())
        s = score(tr.env, tr.policy, t)
        c.append(time.process_time())
        loss, _ = tr.objective(s)
        c.append(time.process_time())
        tr.policy.zero_grad(set_to_none=True)
        loss.backward()
        c.append(time.process_time())
        tr.opt.step()
        c.append(time.process_time())
        tr.train_round()
        c.append(time.process_time())
        for k, a, b in zip(names, c[:-1], c[1:], strict=True):
            acc[k] += (b - a) / rounds * 1e6
    return acc


def parts_table(a) -> None:
    trees = {"this checkout": ROOT}
    if a.baseline:
        trees["baseline"] = os.path.abspath(a.baseline)
    res: dict = {k: [] for k in trees}
    for _ in range(a.repeats):
        for k, tree in trees.items():
            res[k].append(child([__file__, "--tree", tree, "--part-child", a.rounds], env=ONE_THREAD))
    names = list(res["this checkout"][0])
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    print(f"# where a tfbind8 iteration goes (gfnx's settings; CPU us, medians of {a.repeats} interleaved fresh "
          "processes; 1 thread; a shared machine)\n")
    print(f"command: `{cmd.strip()}`\n")
    print("| checkout | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for k in trees:
        print(f"| {k} | " + " | ".join(f"{median(r[n] for r in res[k]):.0f}" for n in names) + " |")


def write_log_rewards(task: str, path: str) -> str:
    """molgfn's log R over every object of a tabular task (base-A index), for the gfnx peer: one table."""
    import numpy as np

    sys.path.insert(0, ROOT)
    from molgfn.tasks import get_task

    t = get_task(task)
    np.save(path, t.log_reward(t.table).numpy())
    return path


def gfnx_table(a) -> None:
    """molgfn and gfnx side by side at gfnx's TB settings, each measurement a fresh process, the tools
    interleaved (molgfn, gfnx, [baseline]) in every repeat so that the machine's load falls on all alike."""
    import shutil
    import tempfile

    trees = {"molgfn (this checkout)": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    if a.baseline:
        trees["molgfn baseline"] = os.path.abspath(a.baseline)
    rows = [*trees, "gfnx 0.0.1, prepend/append env", "gfnx 0.0.1, its append-only TFBind8"]
    cols = ("tfbind8", "qm9str", "process")
    res: dict = {(k, c): [] for k in rows for c in cols}
    tables = tempfile.mkdtemp()
    lr = {t: write_log_rewards(t, os.path.join(tables, f"{t}.npy")) for t in ("tfbind8", "qm9str")}
    for rep in range(a.repeats):
        for k, tree in trees.items():
            tasks = [("tfbind8", 128)] + ([] if a.skip_qm9str else [("qm9str", 1024)])
            for task, hidden in tasks:
                res[(k, task)].append(child([__file__, "--tree", tree, "--iter", task, hidden, a.rounds],
                                            env=ONE_THREAD))
            d = tempfile.mkdtemp()
            try:
                res[(k, "process")].append(whole_process(tree, 2000, os.path.join(d, "run")))
            finally:
                shutil.rmtree(d)
            print(rep, k, {c: res[(k, c)][-1] for c in cols if res[(k, c)]}, file=sys.stderr, flush=True)
        for k, env_name in zip(rows[-2:], ("prepend-append", "autoregressive"), strict=True):
            res[(k, "tfbind8")].append(gfnx_run(["--per-iter", str(a.rounds), "--env", env_name, "--log-rewards",
                                                 lr["tfbind8"]]))
            p = gfnx_run(["--iterations", "2000", "--env", env_name, "--log-rewards", lr["tfbind8"]])
            res[(k, "process")].append({"cpu_s": p["proc_cpu_s"], "wall_s": p["proc_wall_s"]})
            if env_name == "prepend-append" and not a.skip_qm9str:  # gfnx's QM9Small is prepend/append too
                res[(k, "qm9str")].append(gfnx_run(["--task", "qm9str", "--hidden", "1024", "--per-iter",
                                                    str(a.rounds), "--log-rewards", lr["qm9str"]]))
            print(rep, k, {c: res[(k, c)][-1] for c in cols if res[(k, c)]}, file=sys.stderr, flush=True)

    shutil.rmtree(tables)

    def med(k, c, f):
        return median(r[f] for r in res[(k, c)]) if res[(k, c)] else float("nan")

    def each(k, c, f, fmt):
        return ", ".join(format(r[f], fmt) for r in res[(k, c)])

    ref = rows[-2]
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    print(f"# molgfn vs gfnx at gfnx's TB settings ({a.repeats} interleaved repeats, medians; 1 thread each; "
          f"a shared 2-core machine: compare CPU and ratios)\n")
    print(f"command: `{cmd.strip()}`\n")
    print("| tool | tfbind8 ms/iter CPU (wall) | / gfnx | `train --rounds 2000` process s CPU (wall) | / gfnx | "
          "qm9str w1024 ms/iter CPU (wall) | / gfnx |")
    print("|---|---|---|---|---|---|---|")
    for k in rows:
        print(f"| {k} | {med(k, 'tfbind8', 'cpu_ms'):.2f} ({med(k, 'tfbind8', 'wall_ms'):.2f}) | "
              f"{med(k, 'tfbind8', 'cpu_ms') / med(ref, 'tfbind8', 'cpu_ms'):.2f} | "
              f"{med(k, 'process', 'cpu_s'):.2f} ({med(k, 'process', 'wall_s'):.2f}) | "
              f"{med(k, 'process', 'cpu_s') / med(ref, 'process', 'cpu_s'):.2f} | "
              f"{med(k, 'qm9str', 'cpu_ms'):.1f} ({med(k, 'qm9str', 'wall_ms'):.1f}) | "
              f"{med(k, 'qm9str', 'cpu_ms') / med(ref, 'qm9str', 'cpu_ms'):.2f} |")
    print("\nper repeat (CPU): ")
    for k in rows:
        print(f"- {k}: tfbind8 ms/iter {each(k, 'tfbind8', 'cpu_ms', '.2f')}; process s "
              f"{each(k, 'process', 'cpu_s', '.2f')}")
    # the same-repeat ratio is steadier than the ratio of medians when the load changes between repeats
    mine = rows[0]
    r_it = [m["cpu_ms"] / g["cpu_ms"] for m, g in zip(res[(mine, "tfbind8")], res[(ref, "tfbind8")], strict=True)]
    r_pr = [m["cpu_s"] / g["cpu_s"] for m, g in zip(res[(mine, "process")], res[(ref, "process")], strict=True)]
    print(f"\n{mine} / gfnx (prepend/append), pairwise per repeat: per iteration "
          f"{', '.join(f'{x:.2f}' for x in r_it)} (median {median(r_it):.2f}); whole process "
          f"{', '.join(f'{x:.2f}' for x in r_pr)} (median {median(r_pr):.2f})")


# the rounds users run (LS-GFN's settings: 32 on-policy + 32 replayed, 3 gradient steps, width 128)
RECIPES = {
    "TB": dict(),
    "TB + LS": dict(local_search=True),
    "Logit-GFN + LS (design's default on tfbind8 and RNA)": dict(local_search=True, conditioning="logit",
                                                     beta_dist="uniform:1,3"),
}


def recipe_round(tree: str, task: str, recipe: str, rounds: int) -> dict:
    """Median CPU ms of a training round of ``RECIPES[recipe]`` on ``task``, for the checkout ``tree``."""
    sys.path.insert(0, tree)
    import torch
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    torch.set_num_threads(1)
    cfg = TrainConfig(task=task, rounds=10**9, device="cpu", hidden=128, checkpoint_every=10**9, seed=0,
                      batch_size=32, replay_size=32, grad_steps=3, **RECIPES[recipe])
    tr = Trainer(cfg, get_task(task))
    for _ in range(10):
        tr.train_round()
    cpu = []
    for _ in range(rounds):
        c = time.process_time()
        tr.train_round()
        cpu.append(time.process_time() - c)
    return {"cpu_ms": median(cpu) * 1e3}


def recipes_table(a) -> None:
    trees = [("this checkout", ROOT)] + ([("baseline", os.path.abspath(a.baseline))] if a.baseline else [])
    res: dict = {}
    for _ in range(a.repeats):
        for task in ("tfbind8", "qm9str"):
            for recipe in RECIPES:
                for label, tree in trees:  # interleaved: the load falls on both alike
                    r = child([__file__, "--recipe-child", tree, task, recipe, a.rounds])
                    res.setdefault((task, recipe), {}).setdefault(label, []).append(r["cpu_ms"])
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    print(f"# CPU ms per round of the recipes users run (32 + 32 replayed, 3 gradient steps, width 128; "
          f"median of {a.rounds} rounds after 10, then of {a.repeats} interleaved fresh processes; 1 thread)\n")
    print(f"command: `{cmd.strip()}`\n")
    labels = [label for label, _ in trees]
    print("| task | recipe | " + " | ".join(labels) + (" | baseline / this |" if a.baseline else " |"))
    print("|---|---|" + "---|" * (len(labels) + bool(a.baseline)))
    for (task, recipe), by in res.items():
        med = [median(by[label]) for label in labels]
        ratio = f" {med[1] / med[0]:.2f}x |" if a.baseline else ""
        print(f"| {task} | {recipe} | " + " | ".join(f"{m:.1f}" for m in med) + " |" + ratio)


def main() -> None:
    ap = parser(repeats=3)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (2 is faster on an idle "
                    "2-core machine; 1 is steadier on a shared one)")
    ap.add_argument("--child", nargs=7)
    ap.add_argument("--gfnx", action="store_true", help="gfnx's TB settings (see the module docstring)")
    ap.add_argument("--baseline", help="with --gfnx or --process: another molgfn checkout measured in the same session")
    ap.add_argument("--skip-qm9str", action="store_true", help="with --gfnx: tfbind8 only")
    ap.add_argument("--rna", action="store_true", help="rna1 round time against its oracle time")
    ap.add_argument("--tree", help=argparse.SUPPRESS)
    ap.add_argument("--iter", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--process", action="store_true", help="the whole tfbind8 `train` process and its "
                    "non-training parts (imports, task set-up, checkpoint); --rounds 2000 for the issue's command")
    ap.add_argument("--phases", help=argparse.SUPPRESS)
    ap.add_argument("--parts", action="store_true", help="CPU time of each part of a tfbind8 iteration at gfnx's "
                    "settings (with --baseline: both checkouts, interleaved)")
    ap.add_argument("--part-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--recipes", action="store_true", help="CPU ms per round of TB, TB + LS and design's "
                    "Logit-GFN + LS at LS-GFN's settings, tfbind8 and qm9str (with --baseline: both checkouts)")
    ap.add_argument("--recipe-child", nargs=4, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.recipe_child:
        tree, task, recipe, rounds = a.recipe_child
        print(json.dumps(recipe_round(tree, task, recipe, int(rounds))))
        return
    if a.recipes:
        recipes_table(a)
        return
    if a.part_child:
        print(json.dumps(round_parts(a.part_child)))
        return
    if a.parts:
        parts_table(a)
        return
    if a.phases:
        print(json.dumps(phases(a.phases)))
        return
    if a.process:
        process_table(a)
        return
    if a.iter:
        print(json.dumps(per_iteration(a.iter[0], int(a.iter[1]), int(a.iter[2]))))
        return
    if a.gfnx:
        gfnx_table(a)
        return
    if a.rna:
        rna_round(a.rounds)
        return
    if a.child:
        task, ls, hidden, gs, rounds, seed, threads = a.child
        print(json.dumps(one(task, ls == "1", int(hidden), int(gs), int(rounds), int(seed), int(threads))))
        return
    rows = []
    for task, name, ls, hidden, gs in CONFIGS:
        res = []
        for rep in range(a.repeats):
            args = [task, str(int(ls)), str(hidden), str(gs), str(a.rounds), str(rep), str(a.threads)]
            res.append(child([__file__, "--child", *args]))
        def med(k: str, res: list[dict] = res) -> float:
            return median(r[k] for r in res)

        modes = [r["modes"] for r in res if r["modes"] is not None]
        calls = res[0]["reward_calls"]
        rows.append((task, f"{name} (width {hidden}, {gs} grad step{'s' if gs > 1 else ''})", med("median_ms"),
                     med("calls_per_s"), med("peak_rss_mb"),
                     f"{median(modes):.0f} ({', '.join(map(str, modes))})" if modes else "n/a",
                     f"{1000 * median(modes) / calls:.1f}" if modes else "n/a", calls))
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    print(f"# throughput ({a.rounds} rounds after 1 warm-up, {a.repeats} runs each, medians; "
          f"{a.threads} torch thread{'s' if a.threads > 1 else ''})\n")
    print(f"command: `{cmd.strip()}`\n")
    print_table(["task", "method", "ms / round", "reward calls / s", "peak RSS (MB)", "modes (per seed)",
                 "modes / 1000 calls", "calls"],
                [(r[0], r[1], f"{r[2]:.1f}", f"{r[3]:.0f}", f"{r[4]:.0f}", r[5], r[6], r[7]) for r in rows])


if __name__ == "__main__":
    main()
