"""Preference-conditioned multi-objective GFlowNets (Jain et al., ICML 2023): accuracy and cost.

1. On AB^L with the two-objective oracle tests.moo_oracles:a_and_alternation and
   R(x | w) = (w . y(x))^b: the exact L1 distance between the sampler's marginal at w (beta = 1)
   and R(x | w)^beta / Z(w), for ONE preference-conditioned sampler and, as the reference, one
   fixed-weight sampler trained per w with the same rounds; the hypervolume of 1,000 samples
   (w ~ Dirichlet(1, 1) each) against the exact Pareto front.
2. seh-frag-moo: seconds per training round, preference-conditioned vs the fixed weighted sum,
   same recipe (design's: logit conditioning, beta ~ U[1, 3], local search), interleaved in one run.

    .venv/bin/python bench/preferences.py [--length 6 --rounds 1500 --frag-rounds 6 --repeats 3]
"""

from __future__ import annotations

import itertools
import statistics
import time

import numpy as np
import torch
from harness import interleave, median, parser, print_table, table

PREFS = [(1.0, 0.0), (0.5, 0.5), (0.2, 0.8)]


def enumerable(length: int, rounds: int, b: float, seed: int) -> None:
    from molgfn import FunctionTask
    from molgfn.api import make_config
    from molgfn.exact import exact_marginal
    from molgfn.moo import hypervolume, igd, pareto_front
    from molgfn.trainer import Trainer
    from tests.moo_oracles import a_and_alternation

    objs = ["".join(p) for p in itertools.product("AB", repeat=length)]
    common = dict(rounds=rounds, batch_size=32, replay_size=32, hidden=64, device="cpu", track_modes=False, seed=seed)

    def target(env, w):
        Y = np.zeros((len(objs), 2))
        Y[env.index(env.from_strings(objs)).numpy()] = np.array(a_and_alternation(objs))
        r = np.maximum(Y @ np.asarray(w), 1e-3) ** b
        return r / r.sum()

    def task(weights=None):
        return FunctionTask(a_and_alternation, alphabet="AB", length=length, reward_exponent=b,
                            objectives=["a", "alt"], weights=weights)

    t0 = time.perf_counter()
    t = task()
    tr = Trainer(make_config(t, preference_dist="dirichlet:1", **common), t)
    tr.train()
    t_pref = time.perf_counter() - t0
    rows = []
    for w in PREFS:
        l1 = float(np.abs(exact_marginal(t.env, tr.policy, 1.0, pref=w).numpy() - target(t.env, w)).sum())
        t0 = time.perf_counter()
        tw = task(",".join(f"{v:g}" for v in w))  # the reference: a sampler trained at this w alone
        fixed = Trainer(make_config(tw, **common), tw)
        fixed.train()
        t_fixed = time.perf_counter() - t0
        l1_fixed = float(np.abs(exact_marginal(tw.env, fixed.policy, 1.0).numpy() - target(tw.env, w)).sum())
        rows.append((w, l1, l1_fixed, t_fixed))
    torch.manual_seed(seed)
    Y = np.array(a_and_alternation(t.env.to_strings(tr.sample(1000))))
    front = pareto_front(np.array(a_and_alternation(objs)))
    print(f"AB^{length} ({len(objs)} objects), b = {b:g}, {rounds} rounds of 32 + 32 replayed, hidden 64, TB, "
          f"seed {seed}")
    print()
    print_table(["w", "exact L1, one preference-conditioned sampler", "exact L1, a sampler trained at this w alone"],
                [(f"{w[0]:g},{w[1]:g}", f"{l1:.3f}", f"{l1f:.3f}") for w, l1, l1f, _ in rows])
    print()
    print(f"training time: preference-conditioned {t_pref:.1f} s (every w); fixed-weight "
          f"{statistics.mean(r[3] for r in rows):.1f} s each (one w)")
    print()
    print(table(["1,000 samples, w ~ Dirichlet(1, 1)", "value"], [
        ("hypervolume of the samples", f"{hypervolume(Y):.4f}"),
        (f"hypervolume of the exact Pareto front ({len(front)} points)", f"{hypervolume(front):.4f}"),
        ("IGD to the exact front", f"{igd(Y, front):.4f}"),
        ("exact-front points sampled", f"{sum(any((y == p).all() for y in Y) for p in front)} of {len(front)}")]))


def frag_speed(rounds: int, repeats: int, device: str = "cpu") -> None:
    from molgfn.tasks import get_task

    from molgfn.config import TrainConfig
    from molgfn.trainer import Trainer

    recipe = dict(conditioning="logit", beta_dist="uniform:1,3", local_search=True, batch_size=32, device=device,
                  track_modes=False, seed=0)
    arms = {"preference-conditioned (dirichlet:1)": ({}, "dirichlet:1"), "fixed weighted sum (1,1,1,1)":
            ({"weights": "1,1,1,1"}, "")}
    trainers = {}
    for name, (opts, pd) in arms.items():
        task = get_task("seh-frag-moo", **opts)
        trainers[name] = Trainer(TrainConfig(task="seh-frag-moo", task_options=opts, rounds=10**6, preference_dist=pd,
                                             **recipe), task)
        trainers[name].train_round()  # warm-up (first oracle and RDKit calls)

    def run(tr) -> None:
        for _ in range(rounds):
            tr.train_round()

    # interleaved: both arms see the same machine load
    times = {k: [t / rounds for t in v] for k, v in
             interleave({name: (lambda tr=tr: run(tr)) for name, tr in trainers.items()}, repeats).items()}
    print(f"seh-frag-moo, design recipe (logit, beta ~ U[1,3], local search, batch 32), {device}, {rounds} rounds x "
          f"{repeats} repeats interleaved, medians")
    print()
    print_table(["training", "s / round (median)", "all repeats"],
                [(name, f"{median(ts):.3f}", ", ".join(f"{t:.3f}" for t in ts)) for name, ts in times.items()])
    for tr in trainers.values():
        tr.task.close()


def main() -> None:
    ap = parser(seed=0, repeats=3)
    ap.add_argument("--length", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=1500)
    ap.add_argument("--exponent", type=float, default=2.0)
    ap.add_argument("--frag-rounds", type=int, default=6)
    ap.add_argument("--skip-frag", action="store_true")
    ap.add_argument("--skip-enumerable", action="store_true")
    ap.add_argument("--device", default="cpu", help="device of the seh-frag-moo timing (cpu or cuda)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"command: `.venv/bin/python bench/preferences.py --length {args.length} --rounds {args.rounds} "
          f"--exponent {args.exponent:g} --seed {args.seed} --frag-rounds {args.frag_rounds} --repeats {args.repeats}"
          f"{' --skip-enumerable' if args.skip_enumerable else ''}{' --skip-frag' if args.skip_frag else ''}"
          f" --device {args.device}`")
    print("machine: 2 cores shared with four other jobs, 1 torch thread; times are noisy, ratios in one run count")
    print()
    if not args.skip_enumerable:
        enumerable(args.length, args.rounds, args.exponent, args.seed)
        print()
    if not args.skip_frag:
        frag_speed(args.frag_rounds, args.repeats, args.device)


if __name__ == "__main__":
    main()
