"""Evaluate a trained sampler the way the papers do (used by `molgfn evaluate` and `molgfn bench`)."""

from __future__ import annotations

import torch

from .calibration import importance_log_z, summary_of
from .exact import distribution_report
from .metrics import diverse_modes, top_k_report
from .sampling import sample_forward
from .task import TabularSequenceTask
from .trajectories import Trajectories


def evaluate_trainer(trainer, n: int = 1000, beta: float = 1.0, k: int = 100) -> dict:
    task, env = trainer.task, trainer.env
    higher = getattr(task, "higher_is_better", True)  # False: a score to minimise (Vina), best = lowest
    out: dict = {
        "task": task.name,
        "rounds": trainer.round,
        "reward_calls": trainer.reward_calls,
        "modes_found": len(trainer.modes_found),
        "num_modes": task.num_modes(),
        "unique_objects_seen": len(trainer.seen.count),
        "best_raw_seen": (max if higher else min)(trainer.seen.raw.values()) if trainer.seen.raw else float("nan"),
        "beta": beta,
        "n_samples": n,
    }
    lazy = getattr(task, "modes_among", None)
    if lazy is not None:  # modes whose check costs extra oracle calls are found here, not in training (RNA)
        out["modes_found"] = len(lazy(sorted(trainer.seen.count)))
    if out["reward_calls"]:
        out["modes_per_1000_calls"] = 1000 * out["modes_found"] / out["reward_calls"]
    if hasattr(task, "mode_sets"):  # tasks with several published mode sets report each
        found = env.from_strings(sorted(trainer.seen.count))
        for key, table in task.mode_sets().items():
            out[f"modes_found_{key}"] = int(table[env.index(found)].sum())
    if higher:  # PMO's sample-efficiency metric over the objects in the order first scored (molgfn.pmo_metric)
        from .budget import countable
        from .pmo_metric import first_scored, pmo_report

        budget = trainer.cfg.max_oracle_calls
        finish = trainer.round >= trainer.cfg.rounds or (budget is not None and trainer.budget_spent)
        out.update(pmo_report(first_scored(trainer.seen.raw, countable(task)), budget, finish))
    samples, trajs = sample_for_evaluation(trainer, n, beta)
    raw_t = task.score_tokens(samples.cpu())
    raw = raw_t.tolist()  # metric only: not counted as reward calls
    molecules = task.object_column == "smiles"
    out.update(top_k_report(env.to_strings(samples), raw, k, smiles_fn=task.smiles, molecules=molecules,
                            higher_is_better=higher))
    threshold = getattr(task, "mode_score_threshold", None)
    if molecules and threshold is not None:  # modes among everything evaluated in training
        objs = [o for o in trainer.seen.raw if not o.startswith("!")]
        out[f"diverse_modes_above_{threshold:g}"] = diverse_modes(objs, [trainer.seen.raw[o] for o in objs],
                                                                   threshold)
    if isinstance(task, TabularSequenceTask):
        # the LS-GFN paper's qm9str number: top-k mean raw / the best raw score of the whole table
        out["top_k_mean_raw_over_max"] = out["top_k_mean_raw"] / float(task.table.max())
        out.update(distribution_report(env, trainer.policy, task.log_reward(task.table).to(trainer.device), beta))
    # calibration beside the modes: an importance-sampled log Z against the learned one, with its standard
    # error and ESS (molgfn.calibration); from the samples above, or (preferences) n more at equal weights
    if trajs is not None:
        cal = summary_of(env, trainer.policy, trajs.with_reward(task.log_reward(raw_t.double()).to(trainer.device)))
    else:
        gen = torch.Generator(device=trainer.device)  # its own: the draws of objective_report stay as they were
        gen.manual_seed(trainer.cfg.seed + 7919)
        cal = importance_log_z(trainer, n, beta, gen)
    out.update(cal)
    return out


@torch.no_grad()
def sample_for_evaluation(trainer, n: int, beta: float, batch: int = 4096):
    """``trainer.sample(n, beta)`` (the same draws), with the trajectories too where one conditioning
    was sampled (no preferences): (terminals, Trajectories or None)."""
    if trainer.pref_dist is not None:
        return trainer.sample(n, beta=beta, batch=batch), None
    trainer.policy.eval()
    parts = [sample_forward(trainer.env, trainer.policy, torch.full((min(batch, n - i),), float(beta),
                                                                    device=trainer.device), 0.0, gen=trainer.gen)
             for i in range(0, n, batch)]
    if not parts:
        return trainer.env.initial(0, trainer.device), None
    trajs = Trajectories.cat(parts)
    return trajs.terminals, trajs


