"""Evaluate a trained sampler the way the papers do (used by `molgfn evaluate` and `molgfn bench`)."""

from __future__ import annotations

from .exact import distribution_report
from .metrics import diverse_modes, top_k_report
from .task import TabularSequenceTask


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
    samples = trainer.sample(n, beta=beta)
    raw = task.score_tokens(samples.cpu()).tolist()  # metric only: not counted as reward calls
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
    return out


