"""Benchmark of the training objectives (issue #4): exact L1 to the target, modes found and
wall time at equal reward calls, 3 seeds; gradient variance with each control variate.

    MOLGFN_DATA=../shared/data .venv/bin/python bench/objectives.py

writes bench/OBJECTIVES.md. Tasks: tfbind8 and qm9str (enumerable: exact L1 by DP with
molgfn.exact.distribution_report), rna1 (small budget; no exact target: best reward and
the number of distinct objects with raw score >= 0.9 of the best seen by any run instead).
One torch thread per run (the machine is shared; more threads oversubscribe it).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from harness import ROOT, command, parser, table

from molgfn.config import TrainConfig
from molgfn.exact import distribution_report
from molgfn.objectives import OBJECTIVES, get_objective, needs_flow_head
from molgfn.policies import MLPPolicy
from molgfn.sampling import sample_forward
from molgfn.trainer import Trainer
from molgfn.trajectories import score

SF = ("rkl", "fkl", "kl-mix", "renyi", "tsallis")
CVS = ("none", "loo", "logz")


def run_one(task_name: str, objective: str, seed: int, rounds: int, batch: int) -> dict:
    from molgfn.tasks import get_task

    task = get_task(task_name, workers=1) if task_name.startswith("rna") else get_task(task_name)
    if task_name.startswith("rna"):  # its mode test (Hamming-1 local optimum) costs 42 oracle calls per object
        task.mode_mask = lambda tokens: None
    cfg = TrainConfig(task=task_name, objective=objective, rounds=rounds, batch_size=batch, replay_size=batch,
                      grad_steps=1, seed=seed, device="cpu", epsilon=0.0 if objective in SF else 0.01,
                      objective_options={"control_variate": "loo"})
    tr = Trainer(cfg, task)
    t0 = time.perf_counter()
    tr.train()
    wall = time.perf_counter() - t0
    row = {"wall": wall, "calls": tr.reward_calls, "modes": len(tr.modes_found) if task.num_modes() else math.nan,
           "best_logr": max(tr.seen.log_reward.values()), "raw": dict(tr.seen.raw)}
    if hasattr(task, "table"):
        row["l1"] = distribution_report(task.env, tr.policy, task.log_reward(task.table))["l1"]
    return row


def grad_variance(task_name: str, k: int = 64, batch: int = 32) -> dict:
    """Total variance (trace of the covariance) of the per-batch gradient of each score-function
    objective at a fixed policy (TB-pretrained for 100 rounds), per control variate."""
    from molgfn.tasks import get_task

    task = get_task(task_name)
    tr = Trainer(TrainConfig(task=task_name, rounds=100, grad_steps=1, seed=0, device="cpu"), task)
    tr.train()
    env = task.env
    pol = MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=128, flow_head=needs_flow_head("rkl"))
    pol.load_state_dict(tr.policy.state_dict())
    params = [p for n, p in pol.named_parameters() if not n.startswith("log_z")]
    gen = torch.Generator().manual_seed(1)
    trajs = sample_forward(env, pol, torch.ones(k * batch), 0.0, gen=gen)
    trajs = trajs.with_reward(task.evaluate(trajs.terminals)[1])
    out = {}
    for name in SF:
        for cv in CVS:
            obj = get_objective(name, control_variate=cv)
            gs = []
            for i in range(k):
                sl = slice(i * batch, (i + 1) * batch)
                part = type(trajs)(trajs.states[sl], trajs.fwd_actions[sl], trajs.bwd_actions[sl], trajs.beta[sl],
                                   trajs.log_reward[sl])
                loss, _ = obj(score(env, pol, part))
                g = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
                gs.append(torch.cat([x.reshape(-1) for x in g]).double())
            out[(name, cv)] = float(torch.stack(gs).var(0).sum())
    return out


def fmt(xs, digits=3) -> str:
    xs = [x for x in xs if not (isinstance(x, float) and math.isnan(x))]
    if not xs:
        return "—"
    m, s = float(np.mean(xs)), float(np.std(xs))
    if abs(m) >= 100:
        return f"{m:.0f} ± {s:.0f}"
    return f"{m:.{digits}g} ± {s:.2g}"


def _mean(res: dict, obj: str, key: str) -> float:
    return float(np.mean([r[key] for r in res[obj]])) if obj in res else math.nan


def _compare(all_res: dict, a: str, b: str) -> str:
    """'a vs b' on every enumerable task: exact L1 (lower is better) and modes (higher)."""
    parts = []
    for task, res in all_res.items():
        if "l1" not in res.get(a, [{}])[0] or b not in res:
            continue
        la, lb = _mean(res, a, "l1"), _mean(res, b, "l1")
        ma, mb = _mean(res, a, "modes"), _mean(res, b, "modes")
        parts.append(f"{task}: L1 {la:.3f} vs {lb:.3f} ({'better' if la < lb else 'worse'}), "
                     f"modes {ma:.0f} vs {mb:.0f} ({'more' if ma > mb else 'fewer' if ma < mb else 'same'})")
    return "; ".join(parts) or "not run"


def claims(all_res: dict, var: dict) -> list[str]:
    loo = [var[(n, "loo")] / var[(n, "none")] for n in SF]
    logz = [var[(n, "logz")] / var[(n, "none")] for n in SF]
    return [
        "", "## Which claims of the papers this reproduces", "",
        "- **On-policy reverse KL has the expected P_F gradient of TB** (Malkin et al. 2023; Zimmermann et al. "
        "2023): reproduced exactly, by enumeration: `tests/test_objectives.py::"
        "test_on_policy_reverse_kl_has_the_tb_gradient` (P_B fixed: grad TB = 2 grad KL(q||pi) to 1e-4 for any "
        "log Z). With the `logz` control variate the per-sample P_F terms are even identical. With a learned, "
        "shared-trunk P_B the two differ in the P_B part (rkl trains P_B by KL(q||pi), TB by its residual).",
        "- **Every estimator is unbiased for its stated gradient** (our check, not a paper claim): all objectives "
        "and control variates agree with enumeration within Monte Carlo error (`test_*_gradient_matches_exact`).",
        f"- **Leave-one-out control variates reduce gradient variance** (da Silva et al. 2024): "
        f"{'reproduced' if all(x < 1 for x in loo) else 'not reproduced for every objective'}: variance ratio "
        f"loo/none {', '.join(f'{n} {x:.3f}' for n, x in zip(SF, loo, strict=True))}. The learned-log-Z baseline "
        f"helps less here ({', '.join(f'{x:.2f}' for x in logz)}) because log Z is only as good as 100 rounds of "
        "TB made it; for Tsallis it also sets the weights' scale.",
        f"- **FL-DB's local credit helps over DB** (Pan et al. 2023): fldb vs db, {_compare(all_res, 'fldb', 'db')}. "
        "Our tabular energy is an optimistic max-over-completions potential, not the papers' additive energies.",
        f"- **SubTB(lambda) trains faster than TB/DB** (Madan et al. 2023): subtb vs tb, "
        f"{_compare(all_res, 'subtb', 'tb')}.",
        f"- **alpha = 0.5 divergences beat KL and TB** (da Silva et al. 2024): renyi vs rkl, "
        f"{_compare(all_res, 'renyi', 'rkl')}; tsallis vs tb, {_compare(all_res, 'tsallis', 'tb')}.",
        "- Not reproduced / not tested: the papers' task suites (hypergrids, bit sequences, molecules, "
        "set generation), their budgets (up to 10^5-10^6 reward calls) and their statistics: here 3 seeds and "
        "one small budget per task, so differences of a few percent are noise. The divergences run on-policy "
        "without replay while balance objectives get a prioritised replay batch and epsilon = 0.01 exploration "
        "(each as the issue specifies), so the comparison is of training recipes, not of losses alone.",
    ]


def main() -> None:
    ap = parser(__doc__, first="all")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds-tfbind8", type=int, default=1500)
    ap.add_argument("--rounds-qm9str", type=int, default=800)
    ap.add_argument("--rounds-rna", type=int, default=150)
    ap.add_argument("--objectives", default=",".join(OBJECTIVES))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "OBJECTIVES.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cmd = command("MOLGFN_DATA=../shared/data .venv/bin/python")
    from molgfn.tasks import get_task

    budgets = [("tfbind8", args.rounds_tfbind8)]
    try:
        get_task("qm9str")
        budgets.append(("qm9str", args.rounds_qm9str))
    except Exception as e:  # another engineer's task; skip it when it does not load
        print(f"qm9str skipped: {e}", file=sys.stderr)
    budgets.append(("rna1", args.rounds_rna))
    objectives = args.objectives.split(",")
    t_start = time.perf_counter()
    all_res: dict[str, dict] = {}
    lines = ["# Training objectives: benchmark", "", f"Made by `{cmd.strip()}` "
             f"({args.seeds} seeds, batch {args.batch} on-policy + {args.batch} replayed for balance objectives, "
             "1 gradient step per round, hidden 128, lr 1e-3, lr_logz 1e-2; exploration epsilon 0.01 for "
             "balance objectives, 0 for the on-policy divergences, which use no replay and the leave-one-out "
             "control variate). Equal reward calls per task. Mean ± std over seeds. "
             "Wall time is on a shared 2-core CPU machine, one torch thread; other jobs ran at the same time, "
             "so times are indicative only.", ""]
    for task_name, rounds in budgets:
        res = {}
        for obj in objectives:
            res[obj] = [run_one(task_name, obj, s, rounds, args.batch) for s in range(args.seeds)]
            print(task_name, obj, {k: v for k, v in res[obj][0].items() if k != "raw"}, file=sys.stderr, flush=True)
        all_res[task_name] = res
        calls = res[objectives[0]][0]["calls"]
        lines += [f"## {task_name}: {rounds} rounds, {calls} reward calls per run", ""]
        if task_name.startswith("rna"):
            best = max(max(r["raw"].values()) for rs in res.values() for r in rs)
            lines += [f"No exact target (4^14 objects). 'near-best' = distinct objects with raw score >= 0.9 x "
                      f"{best:.3f} (the best raw score any run found).", "",
                      "| objective | best log R | near-best objects | wall s |", "|---|---|---|---|"]
            for obj, rs in res.items():
                nb = [sum(v >= 0.9 * best for v in r["raw"].values()) for r in rs]
                lines.append(f"| {obj} | {fmt([r['best_logr'] for r in rs])} | {fmt(nb)} | "
                             f"{fmt([r['wall'] for r in rs], 2)} |")
        else:
            n_modes = get_task(task_name).num_modes()
            lines += [f"| objective | exact L1(p, R/Z) | modes found (of {n_modes}) | wall s |", "|---|---|---|---|"]
            for obj, rs in res.items():
                lines.append(f"| {obj} | {fmt([r['l1'] for r in rs])} | {fmt([r['modes'] for r in rs])} | "
                             f"{fmt([r['wall'] for r in rs], 2)} |")
        lines.append("")
    var = grad_variance("tfbind8")
    lines += ["## Gradient variance and control variates (tfbind8)", "",
              "Total variance (trace of the covariance) of the per-batch gradient wrt the policy network (batch "
              "32, 64 batches, same trajectories for every row) at a policy pre-trained 100 rounds with TB; "
              "ratio = variance / variance without a control variate.", "",
              *table(["objective", "var (none)", "var (loo)", "ratio loo", "var (logz)", "ratio logz"],
                     [(name, f"{v0:.3g}", f"{v1:.3g}", f"{v1 / v0:.3f}", f"{v2:.3g}", f"{v2 / v0:.3f}")
                      for name in SF for v0, v1, v2 in [[var[(name, cv)] for cv in CVS]]]).splitlines()]
    lines += claims(all_res, var)
    lines += ["", f"Total benchmark time {time.perf_counter() - t_start:.0f} s.", ""]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
