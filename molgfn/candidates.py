"""Ranked candidate tables: unique objects, best first."""

from __future__ import annotations

import pandas as pd
import torch

from .oracle.cached import invalid_objects


def diverse_rows(df: pd.DataFrame, top: int | None, column: str, min_distance: int = 0,
                 max_similarity: float = 1.0, max_per_scaffold: int = 0) -> pd.DataFrame:
    """Diverse selection down a ranked table (best first).

    Molecules (``column`` holds SMILES): first at most ``max_per_scaffold`` rows per Murcko
    scaffold (the best of each; 0: no cap), then RDKit's ``LeaderPicker`` in rank order: a row is
    kept when its Tanimoto similarity (the project fingerprint, ``molgfn.chem.descriptors``) to
    every kept row is below ``max_similarity``. Sequences: greedily, a row is kept when its
    Levenshtein distance to every kept one is at least ``min_distance``. Both guarantees hold
    for the final list: each is a property of every pair (or scaffold group) of kept rows.
    """
    if max_per_scaffold > 0 or max_similarity < 1.0:
        from .chem.descriptors import cap_per_scaffold, diverse_indices

        objs = df[column].tolist()
        # both rules are greedy down the ranking, so a prefix of the table gives a prefix of the
        # answer: look at growing prefixes until ``top`` rows are kept (or the table is used up)
        # (without a scaffold cap diverse_indices grows its own prefixes, keeping fingerprints)
        size = len(objs) if top is None or max_per_scaffold <= 0 else min(len(objs), max(64, 4 * top))
        while True:
            idx = cap_per_scaffold(objs[:size], max_per_scaffold) if max_per_scaffold > 0 else list(range(size))
            if max_similarity < 1.0:
                idx = [idx[j] for j in diverse_indices([objs[i] for i in idx], max_similarity, top)]
            idx = idx if top is None else idx[:top]
            if size == len(objs) or len(idx) >= top:
                return df.iloc[idx]
            size = min(len(objs), 2 * size)
    if min_distance <= 0:
        return df if top is None else df.head(top)
    from rapidfuzz.distance import Levenshtein

    keep: list[int] = []
    kept_objs: list[str] = []
    for i, obj in enumerate(df[column].tolist()):
        if all(Levenshtein.distance(obj, k, score_cutoff=min_distance) >= min_distance for k in kept_objs):
            keep.append(i)
            kept_objs.append(obj)
            if top is not None and len(keep) >= top:
                break
    return df.iloc[keep]


def candidate_table(trainer, final_samples: torch.Tensor | None = None, top: int | None = None,
                    beta: float | None = None, samples_only: bool = False, min_distance: int = 0,
                    max_similarity: float = 1.0, max_per_scaffold: int = 0,
                    descriptors: bool = True) -> pd.DataFrame:
    """Every object seen in training plus ``final_samples``, unique, sorted by reward,
    optionally thinned to a diverse set (see ``diverse_rows``). Molecules get the RDKit
    descriptor, rule and alert columns of ``molgfn.chem.descriptors`` (``descriptors``).

    Objects first drawn by the final sampling get ``first_round`` = the number of rounds
    trained; ``times_sampled`` counts training and final draws together. With
    ``samples_only`` only the final samples are ranked (e.g. one table per beta).
    """
    task, env, seen = trainer.task, trainer.env, trainer.seen
    counts = dict(seen.count)
    first = dict(seen.first_round)
    raw = dict(seen.raw)
    if samples_only and final_samples is not None:
        keep = set(env.to_strings(final_samples))
        raw = {o: r for o, r in raw.items() if o in keep}
    if final_samples is not None and final_samples.shape[0] > 0:
        objs = env.to_strings(final_samples)
        first_pos: dict[str, int] = {}
        for i, o in enumerate(objs):
            if o not in raw:
                first_pos.setdefault(o, i)
        if first_pos:  # score each new object once, from its state tensor (no string parsing)
            new = list(first_pos)
            r, _ = task.evaluate(final_samples[list(first_pos.values())].cpu())
            raw.update(zip(new, r.tolist(), strict=True))
            for o in new:
                first[o] = trainer.round
        for o in objs:
            counts[o] = counts.get(o, 0) + 1
    objs = list(raw)
    if hasattr(task, "is_candidate"):  # e.g. fragment states whose molecule failed sanitisation
        objs = [o for o in objs if task.is_candidate(o)]
    invalid = invalid_objects(task, objs)  # the oracle said so (Invalid, or --on-oracle-error invalid)
    if invalid:
        objs = [o for o in objs if o not in invalid]
    raw_t = torch.tensor([raw[o] for o in objs], dtype=torch.float64)
    logr = task.log_reward(raw_t)
    df = pd.DataFrame({
        task.object_column: objs,
        "raw_score": raw_t.numpy(),
        "reward": torch.exp(logr).numpy(),
        "times_sampled": [counts.get(o, 0) for o in objs],
        "first_round": [first[o] for o in objs],
    })
    smiles = task.smiles(objs) if objs else None
    if smiles is not None:
        df.insert(1, "smiles", smiles)
    if beta is not None:
        df.insert(0, "beta", beta)
    df = df.sort_values(["reward", "raw_score", "times_sampled"], ascending=False, kind="stable")
    if smiles is not None:
        # different strings can build the same molecule: a chemist wants each molecule once
        # (its best-ranked string), with the draws of all its strings counted
        total = df.groupby("smiles")["times_sampled"].transform("sum")
        df = df.assign(times_sampled=total).drop_duplicates("smiles", keep="first")
    mol_col = "smiles" if "smiles" in df.columns else None
    by_molecule = mol_col and (max_similarity < 1.0 or max_per_scaffold > 0)
    df = diverse_rows(df, top, mol_col if by_molecule else task.object_column, min_distance, max_similarity,
                      max_per_scaffold if mol_col else 0)
    if hasattr(task, "extra_columns"):  # task-specific columns (molecules: blocks, objectives), top rows only
        at = df.columns.get_loc("reward") + 1
        for k, (name, col) in enumerate(task.extra_columns(df[task.object_column].tolist()).items()):
            df.insert(at + k, name, col)
    df.insert(0, "rank", range(1, len(df) + 1))
    if mol_col and descriptors:
        from .chem.descriptors import add_descriptors

        df = add_descriptors(df, mol_col)
    return df.reset_index(drop=True)

