"""Fragment molecules scored by a scoring file (``molgfn.chem.scoring``): the task and run side.

The scoring function is the task's oracle: a ``CachedVectorOracle`` whose vector per molecule is
the raw value of every component (each computed once per molecule, through the executors and the
score store), aggregated by the ``Scoring`` into the raw score r(x); the reward is then the
fragment tasks' R(x) = R_max * (max(r(x), floor) / raw_max)^b. ``NAME_raw`` and ``NAME_score`` of
each component are columns of candidate lists (``extra_columns``) and of ``molgfn score``
(``score_table``).

Score store key: the oracle name ``scoring``, the version ``Scoring.raw_hash`` (the components'
kinds and kind-specific keys: another reference SMILES or SMARTS list gives new rows; weights,
transforms and the aggregation apply to the stored raw values and need none), and a code version
hashing ``molgfn/chem/scoring.py`` and the code of every ``oracle`` component (as ``--oracle``'s).

With ``aggregation = "preference"`` the task is multi-objective: ``components`` (``molgfn.moo``,
identity transforms, the file's weights) name the objectives ``NAME_score`` and ``objective_vectors``
gives their transformed scores, so the trainer conditions on preferences (``--preference-dist``) and the
candidate list is Pareto-ranked, as for seh-frag-moo.

A run records the normalised scoring in config.json (task option ``scoring``); a resumed run
scores with that content. A run folder never makes molgfn import code: an ``oracle`` component
recorded there is loaded only with ``--trust-oracle`` or when the same ``--scoring`` is given again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .api import MoleculeFunctionTask
from .chem.scoring import Scoring, is_constraint, load_scoring
from .errors import InputError
from .oracle import CachedVectorOracle
from .oracle.loading import load_callable

STORE_NAME = "scoring"


def _code_version(fn, scoring: Scoring) -> str:
    from .oracle.cached import _module_source_hash, code_identity

    parts = [_module_source_hash("molgfn.chem.scoring") or "?"]
    if scoring.docks:
        parts.append(_module_source_hash("molgfn.chem.docking") or "?")
    parts += [f"{s}={code_identity(f)}" for s, f in sorted(fn.oracles.items())]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


class ScoringOracle(CachedVectorOracle):
    """The scoring function behind the memo, store and executors. ``--executor auto`` runs it
    in-process when every component is RDKit's (about a millisecond a molecule: starting a pool of
    workers costs seconds and saves nothing); with an ``oracle`` or ``vina`` component, as any oracle."""

    def _kind(self, n: int) -> str:
        if self.settings.executor == "auto" and not self.fn.oracles and not self.scoring.docks:
            return "local"
        return super()._kind(n)


class ScoringMixin:
    """Scoring-file support for a ``MoleculeFunctionTask``: ``use_scoring`` sets the oracle.

    Under the geometric mean (and preference conditioning) a forbidden substructure is a hard
    constraint (its score 0 makes the aggregate 0): such a molecule is treated as a filtered one
    (``molgfn.fragtask``): the floor reward without an oracle call (its other components are not
    computed), counted under the component's name in ``filtered``, and never a candidate. Under
    ``sum`` a hit only scores 0."""

    scoring: Scoring | None = None
    _forbid: tuple = ()  # (component name, SMARTS patterns) of the hard constraints

    def use_scoring(self, scoring: str | Path | dict | Scoring, load_oracle: Callable[[str], Callable] | None,
                    workers: int | None = 1) -> None:
        if getattr(self, "components", None):
            raise InputError("a scoring file names its own objectives (its components; aggregation = \"preference\" "
                             "for a preference-conditioned run); --objectives / --weights / --transform belong to "
                             "an --oracle returning vectors: drop them")
        sc = scoring if isinstance(scoring, Scoring) else load_scoring(scoring)
        self.scoring, self.spec = sc, None  # spec None: config.json records no --oracle to load
        if sc.objectives:  # preference: the objectives, known even when the oracle is not loaded (a stored run)
            from .moo import Component

            self.components = [Component(n, float(sc.weights[i]))
                               for i, n in zip(sc.objectives, sc.objective_names(), strict=True)]
        if sc.aggregation in ("geometric", "preference"):
            from rdkit import Chem

            self._forbid = tuple((c["name"], [Chem.MolFromSmarts(p) for p in c["smarts"]]) for c in sc.components
                                 if is_constraint(c) and c["weight"] > 0)
            self.constrained = bool(self._forbid)
        fn = sc.function(load_oracle)
        self.oracle = None  # None: a stored run opened without loading its oracle components
        if fn is not None:
            fn.oracle_version = _code_version(fn, sc)  # the store's code version (code_identity reads it)
            self.oracle = ScoringOracle(STORE_NAME, fn, sc, workers=workers, version=sc.raw_hash)

    def failed_filters(self, smiles: list[str]) -> list[tuple[str, ...]]:
        """The first filter (--filter, then a forbidden substructure) each SMILES fails, or ()."""
        if not self._forbid:
            return super().failed_filters(smiles)
        from .chem.descriptors import failed_filters, mol_from_smiles

        out: dict[str, tuple[str, ...]] = {}
        for s in dict.fromkeys(smiles):
            r = self._failed.get(s)
            if r is None:
                mol = mol_from_smiles(s)
                if mol is None:
                    r = ("unparsable",)
                else:
                    r = failed_filters(mol, self.filters, first_only=True) if self.filters else ()
                    r = r or next(((name,) for name, pats in self._forbid
                                   if any(mol.HasSubstructMatch(p) for p in pats)), ())
                if len(self._failed) >= 500_000:  # bound the cache on very long runs, as FragmentTask does
                    self._failed.clear()
                self._failed[s] = r
            out[s] = r
        return [out[s] for s in smiles]

    def scoring_columns(self, objs: list[str]) -> dict[str, list]:
        """``NAME_raw`` / ``NAME_score`` of every component (memo or store: no new oracle call for a
        molecule scored before); NaN for objects that are not candidates (invalid, filtered, forbidden),
        which are never scored; {} without a scoring or with its oracle not loaded."""
        if self.scoring is None or self.oracle is None:
            return {}
        return self.scoring.columns(self._candidate_vectors(objs))

    def _candidate_vectors(self, objs: list[str]) -> np.ndarray:
        """(n, k) raw component values of the candidates among ``objs``, NaN rows for the others."""
        ok = [i for i, o in enumerate(objs) if self.is_candidate(o)]
        Y = np.full((len(objs), len(self.scoring.names)), np.nan)
        if ok:
            Y[ok] = self.oracle.vectors([objs[i] for i in ok])
        return Y

    def objective_vectors(self, objs: list[str]):
        """Under preference: the (n, k) transformed scores of the objectives (NaN for objects that are not
        candidates, which are never scored)."""
        if self.scoring is None or not self.scoring.objectives:
            return super().objective_vectors(objs)
        if self.oracle is None:
            raise InputError("this run's scoring names an oracle that was not loaded: pass --trust-oracle (or the "
                             "same --scoring FILE again) to score")
        Y = self._candidate_vectors(list(objs))
        S = self.scoring.scores(np.nan_to_num(Y))
        S[np.isnan(Y).any(axis=1)] = np.nan
        return S[:, self.scoring.objectives]

    def extra_columns(self, objs: list[str]) -> dict[str, list]:
        cols = super().extra_columns(objs)  # under preference: the objectives' NAME_score columns, as below
        cols.update(self.scoring_columns(objs))
        return cols

    def poses(self, smiles) -> dict[str, str] | None:
        """With a vina component: the best docked pose (an SD mol block) of each of ``smiles`` docked, from
        memory or the score store, as the vina task's; the 3-D coordinates of SDF lists. None without one."""
        if self.scoring is None or self.oracle is None or not self.scoring.docks:
            return None
        return self.oracle.extras_of(list(smiles))

    def score_table(self, smiles: list[str], row_offset: int = 1):
        df = super().score_table(smiles, row_offset)
        if self.scoring is not None and self.oracle is not None:
            at = df.columns.get_loc("reward") + 1
            for k, (name, col) in enumerate(self.scoring.columns(self.oracle.vectors(df["smiles"].tolist())).items()):
                df.insert(at + k, name, col)
        return df


class ScoringTask(ScoringMixin, MoleculeFunctionTask):
    """Fragment molecules scored by a scoring file or dict (the library's ``--task custom-frag
    --scoring FILE``). ``oracle`` components are imported by name (you named them), or by
    ``load_oracle(spec)`` if given. The run it trains reopens from the CLI as a custom-frag run."""

    name = "custom-frag"
    description = "fragment molecules scored by a scoring file"

    def __init__(self, scoring: str | Path | dict | Scoring, max_blocks: int = 8, vocab: str | None = None,
                 reward_exponent: float = 1.0, r_max: float = 1.0, raw_max: float = 1.0, workers: int = 1,
                 filters: str | list[str] | None = None,
                 load_oracle: Callable[[str], Callable] | None = load_callable) -> None:
        super().__init__(None, max_blocks, vocab, reward_exponent, r_max, raw_max, False, workers, filters=filters)
        self.use_scoring(scoring, load_oracle, workers)
        self.task_options = {"oracle": None, "scoring": self.scoring.spec, "max_blocks": max_blocks, "vocab": vocab,
                             "reward_exponent": reward_exponent,
                             "filters": list(self.filters) or None}


# ---- the CLI's checks, kept here so that cli.py only calls them ----------------------------------
def scoring_option(path: str | Path, task: str, oracle: str | None) -> dict:
    """The task options of ``--scoring FILE``: ``{"scoring": normalised dict}``, checked now."""
    if task != "custom-frag":
        raise InputError(f"--scoring scores fragment molecules built by --task custom-frag; task {task!r} has its "
                         "own oracle: use --task custom-frag --scoring FILE")
    if oracle:
        raise InputError("give --scoring or --oracle, not both: a scoring file names your function as a component "
                         "(kind = \"oracle\", oracle = \"package.module:function\")")
    return {"scoring": load_scoring(path).spec}


def score_task_name(task: str | None, scoring) -> str:
    """`molgfn score`'s task: --task, else custom-frag with --scoring (one of them is needed)."""
    if task is None and scoring is None:
        raise InputError("molgfn score needs --task NAME (see `molgfn tasks`), or --scoring FILE")
    return task or "custom-frag"


def stored_scoring_options(opts: dict, trusted: bool, need_oracle: bool = True) -> dict:
    """The options that rebuild a stored scoring run's task: its ``oracle`` components are loaded
    only when ``trusted`` (--trust-oracle, or --scoring given again); else an error if they are
    needed, or the task without its oracle (sampling needs none)."""
    if opts.get("scoring") is None:
        return opts
    specs = load_scoring(opts["scoring"]).oracle_specs
    if specs and not trusted:
        if need_oracle:
            raise InputError(f"this run's scoring (in its config.json) names the oracle {', '.join(specs)}; molgfn "
                             "never imports code because a run folder names it: pass --trust-oracle (or the same "
                             "--scoring FILE again) to load it")
        return {**opts, "load_code": False}
    return {**opts, "load_code": True}


def check_resumed_scoring(stored: dict, path: str | Path | None) -> None:
    """--resume with --scoring FILE: the file must hold the scoring the run started with."""
    if path is None:
        return
    if stored.get("scoring") is None:
        raise InputError("--resume continues the run as it was configured; it has no scoring file: drop --scoring")
    if load_scoring(path).spec != load_scoring(stored["scoring"]).spec:
        raise InputError(f"--scoring {path} differs from the scoring this run was started with (in its config.json); "
                         "a resumed run keeps its objective: drop --scoring, or start a new run in another --out")
