"""Multi-objective design: objective vectors, weighted-sum scoring, Pareto ranks and the
multi-objective metrics of Jain et al. (ICML 2023, "Multi-Objective GFlowNets").

An oracle may return one vector y(x) = (y_1 .. y_k) per object (``--objectives`` names the k
entries). Weighted-sum scoring (REINVENT 4's scoring components) turns it into the raw score

    r(x) = sum_i w_i t_i(y_i(x)) / sum_i w_i

with one transform t_i per component (``--transform NAME=SPEC``; default ``identity``):

- ``sigmoid:LOW,HIGH,K``          t(y) = 1 / (1 + 10^(-10 K (y - (LOW + HIGH)/2) / (HIGH - LOW)))
                                  (0.5 at the midpoint; K sets the steepness; REINVENT's form)
- ``reverse_sigmoid:LOW,HIGH,K``  1 - sigmoid (high values are bad: e.g. molecular weight)
- ``step:LOW,HIGH``               1 if LOW <= y <= HIGH else 0
- ``identity``                    y (must then be >= 0, the raw score's domain)

Metrics, on the transformed objective vectors (all maximised):

- Pareto rank (non-dominated sorting): rank 1 is the non-dominated set, rank 2 the
  non-dominated set once rank 1 is removed, and so on;
- hypervolume HV(Y; ref): the Lebesgue measure of the region dominated by Y and dominating
  ``ref`` (origin by default: Jain et al. normalise objectives to [0, 1] with reference 0),
  exact, by slicing along the last objective (2-D: a sweep);
- IGD(Y; P*) = mean over p in the true front P* of min_y ||p - y||_2 (needs P*: an enumerable task);
- R2(Y; Lambda, z*) = mean over weight vectors lambda of min_y max_i lambda_i |z*_i - y_i|,
  Lambda a simplex lattice, z* the utopian point (1 .. 1): lower is better.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import InputError, OracleError

# ---- transforms and components ---------------------------------------------------------------
TRANSFORMS = {"identity": 0, "sigmoid": 3, "reverse_sigmoid": 3, "step": 2}  # name -> number of parameters


def apply_transform(kind: str, params: Sequence[float], y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if kind == "identity":
        return y
    if kind in ("sigmoid", "reverse_sigmoid"):
        low, high, k = params
        expo = np.clip(-10.0 * k * (y - 0.5 * (low + high)) / (high - low), -300, 300)
        s = 1.0 / (1.0 + np.power(10.0, expo))
        return s if kind == "sigmoid" else 1.0 - s
    if kind == "step":
        low, high = params
        return ((y >= low) & (y <= high)).astype(np.float64)
    raise InputError(f"unknown transform {kind!r}; choose from {', '.join(TRANSFORMS)}")


@dataclass(frozen=True)
class Component:
    """One scoring component: an objective's name, its weight and its transform."""

    name: str
    weight: float = 1.0
    transform: str = "identity"
    params: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise InputError(f"objective {self.name!r}: unknown transform {self.transform!r}; choose from "
                             f"{', '.join(TRANSFORMS)}")
        need = TRANSFORMS[self.transform]
        if len(self.params) != need:
            form = {"sigmoid": "sigmoid:LOW,HIGH,K", "reverse_sigmoid": "reverse_sigmoid:LOW,HIGH,K",
                    "step": "step:LOW,HIGH", "identity": "identity"}[self.transform]
            raise InputError(f"objective {self.name!r}: transform {self.transform} takes {need} numbers: {form}")
        if self.transform != "identity" and not self.params[0] < self.params[1]:
            raise InputError(f"objective {self.name!r}: {self.transform} needs LOW < HIGH, got {self.params}")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise InputError(f"objective {self.name!r}: weight must be >= 0, got {self.weight}")

    @property
    def spec(self) -> str:
        return self.transform + (":" + ",".join(f"{p:g}" for p in self.params) if self.params else "")

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return apply_transform(self.transform, self.params, y)


def parse_transform(spec: str) -> tuple[str, tuple[float, ...]]:
    kind, _, args = spec.strip().partition(":")
    try:
        params = tuple(float(a) for a in args.split(",")) if args.strip() else ()
    except ValueError:
        raise InputError(f"bad transform {spec!r}: use sigmoid:LOW,HIGH,K, reverse_sigmoid:LOW,HIGH,K, "
                         "step:LOW,HIGH or identity") from None
    return kind, params


def make_components(objectives: Sequence[str], weights: Sequence[float] | None = None,
                    transforms: dict[str, str] | None = None) -> list[Component]:
    """Components from names, weights (default: equal) and ``{name: "sigmoid:LOW,HIGH,K"}``."""
    objectives = [str(o).strip() for o in objectives]
    if not objectives or any(not o for o in objectives) or len(set(objectives)) != len(objectives):
        raise InputError(f"--objectives must be distinct names separated by commas, got {objectives}")
    weights = [1.0] * len(objectives) if weights is None or len(weights) == 0 else [float(w) for w in weights]
    if len(weights) != len(objectives):
        raise InputError(f"--weights has {len(weights)} values for {len(objectives)} objectives "
                         f"({', '.join(objectives)})")
    transforms = dict(transforms or {})
    unknown = [k for k in transforms if k not in objectives]
    if unknown:
        raise InputError(f"--transform names {unknown}, which are not among --objectives {objectives}")
    comps = []
    for name, w in zip(objectives, weights, strict=True):
        kind, params = parse_transform(transforms.get(name, "identity"))
        comps.append(Component(name, w, kind, params))
    if sum(c.weight for c in comps) <= 0:
        raise InputError("--weights must not all be 0")
    return comps


def parse_weights(spec: str | Sequence[float] | None) -> list[float] | None:
    if spec is None or isinstance(spec, (list, tuple)):
        return None if spec is None else [float(w) for w in spec]
    try:
        return [float(w) for w in str(spec).split(",") if w.strip()]
    except ValueError:
        raise InputError(f"--weights must be numbers separated by commas, got {spec!r}") from None


def parse_transforms(items: Sequence[str] | dict | None) -> dict[str, str]:
    """``["qed=sigmoid:0.2,0.8,0.5", ...]`` (repeatable --transform) -> {name: spec}."""
    if isinstance(items, dict):
        return {str(k): str(v) for k, v in items.items()}
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--transform must look like NAME=sigmoid:LOW,HIGH,K, got {item!r}")
        out[name.strip()] = spec.strip()
    return out


# ---- weighted-sum scoring -------------------------------------------------------------------
class WeightedSum:
    """r(x) = sum_i w_i t_i(y_i) / sum_i w_i over a (n, k) array of objective vectors."""

    def __init__(self, components: Sequence[Component]) -> None:
        self.components = list(components)
        self.names = [c.name for c in self.components]
        w = np.array([c.weight for c in self.components], dtype=np.float64)
        self.weights = w / w.sum()

    def transformed(self, Y: np.ndarray) -> np.ndarray:
        Y = np.asarray(Y, dtype=np.float64).reshape(-1, len(self.components))
        return np.stack([c(Y[:, i]) for i, c in enumerate(self.components)], axis=1) if len(Y) else Y

    def __call__(self, Y: np.ndarray) -> np.ndarray:
        return self.transformed(Y) @ self.weights


def check_vectors(name: str, objects: Sequence[str], values, k: int) -> np.ndarray:
    """The oracle's output as a finite (n, k) array, or OracleError naming the oracle and objects."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise OracleError(f"oracle {name!r} returned values that are not vectors of numbers: {e}") from e
    if arr.ndim == 1 and k == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape != (len(objects), k):
        raise OracleError(f"oracle {name!r} must return one vector of {k} objectives per object "
                          f"({len(objects)} objects), got shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = ", ".join(f"{objects[i]!r} -> {arr[i].tolist()}" for i in idx[:5])
        raise OracleError(f"oracle {name!r} returned NaN/inf objectives for {len(idx)} object(s): {shown}")
    return arr


class VectorOracle:
    """A function objects -> (n, k) objective vectors, cached per object; ``__call__`` returns the
    weighted-sum raw scores, ``vectors(objs)`` the cached vectors (for columns and metrics).

    Runs in-process: objective vectors stay in this process for the candidate table."""

    def __init__(self, name: str, fn: Callable, components: Sequence[Component]) -> None:
        self.name, self.fn = name, fn
        self.scoring = WeightedSum(components)
        self.k = len(self.scoring.components)
        self.cache: dict[str, np.ndarray] = {}
        self.calls = 0

    def vectors(self, objects: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(o for o in objects if o not in self.cache))
        if todo:
            try:
                values = self.fn(todo)
            except OracleError:
                raise
            except Exception as e:  # a user's oracle may raise anything; the run must stop cleanly
                raise OracleError(f"oracle {self.name!r} raised {type(e).__name__}: {e} (batch of {len(todo)}, "
                                  f"first objects: {', '.join(repr(o) for o in todo[:5])})") from e
            arr = check_vectors(self.name, todo, values, self.k)
            self.calls += len(todo)
            self.cache.update(zip(todo, arr, strict=True))
        return np.array([self.cache[o] for o in objects], dtype=np.float64).reshape(len(objects), self.k)

    def __call__(self, objects: Sequence[str]) -> np.ndarray:
        return self.scoring(self.vectors(objects))

    def close(self) -> None:
        pass


# ---- Pareto ranks -----------------------------------------------------------------------------
def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """a Pareto-dominates b (maximisation): no worse everywhere, better somewhere."""
    return bool(np.all(a >= b) and np.any(a > b))


def pareto_rank(Y: np.ndarray) -> np.ndarray:
    """Non-dominated sorting rank of each row (1: non-dominated), all objectives maximised."""
    Y = np.asarray(Y, dtype=np.float64)
    n = len(Y)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ge = np.ones((n, n), dtype=bool)
    gt = np.zeros((n, n), dtype=bool)
    for i in range(Y.shape[1]):  # one objective at a time: n x n booleans, never n x n x k
        ge &= Y[:, None, i] >= Y[None, :, i]
        gt |= Y[:, None, i] > Y[None, :, i]
    dom = ge & gt  # dom[i, j]: i dominates j
    count = dom.sum(0)  # how many dominate j
    rank = np.zeros(n, dtype=np.int64)
    current = np.flatnonzero(count == 0)
    r = 1
    while current.size:
        rank[current] = r
        count = count - dom[current].sum(0)
        count[rank > 0] = -1
        current = np.flatnonzero(count == 0)
        r += 1
    return rank


def pareto_front(Y: np.ndarray) -> np.ndarray:
    """The distinct non-dominated rows of Y (a sequential filter: O(n * front size)).

    Rows are visited in decreasing lexicographic order, which extends the dominance order exactly:
    a row that dominates another is lexicographically larger, so every dominator of a row is
    already visited (in the front or dominated by a front row) when the row is checked. (An order
    by the rows' sums is not exact: (0, 1) and (1e-20, 1) have the same floating-point sum.)"""
    Y = np.unique(np.asarray(Y, dtype=np.float64), axis=0)[::-1]  # unique rows, lexicographically decreasing
    front: list[np.ndarray] = []
    for y in Y:
        if not front or not np.any(np.all(np.array(front) >= y, axis=1)):  # distinct rows: >= means dominates
            front.append(y)
    return np.array(front).reshape(-1, Y.shape[1])


# ---- hypervolume, IGD, R2 ------------------------------------------------------------------------
def hypervolume(Y: np.ndarray, ref: Sequence[float] | None = None) -> float:
    """Exact hypervolume dominated by the rows of Y above ``ref`` (default: the origin), maximising."""
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2:
        raise ValueError("hypervolume needs a (n, k) array")
    k = Y.shape[1]
    ref_arr = np.zeros(k) if ref is None else np.asarray(ref, dtype=np.float64)
    Y = Y[(Y > ref_arr).all(axis=1)] - ref_arr  # points not above ref add nothing
    if len(Y) == 0:
        return 0.0
    return float(_hv(pareto_front(Y)))


def _hv(P: np.ndarray) -> float:
    """Hypervolume of a non-dominated set P above the origin (HSO: slice along the last axis)."""
    k = P.shape[1]
    if k == 1:
        return float(P[:, 0].max())
    if k == 2:  # sweep: sort by x descending, y increases
        P = P[np.argsort(-P[:, 0])]
        area, best_y = 0.0, 0.0
        for x, y in P:
            if y > best_y:
                area += x * (y - best_y)
                best_y = y
        return area
    z = np.unique(P[:, -1])[::-1]  # slice boundaries, highest first
    total = 0.0
    for i, hi in enumerate(z):
        lo = z[i + 1] if i + 1 < len(z) else 0.0
        sl = P[P[:, -1] >= hi, :-1]  # the points reaching this slab
        total += (hi - lo) * _hv(pareto_front(sl))
    return total


def igd(Y: np.ndarray, front: np.ndarray) -> float:
    """Inverted generational distance: mean distance from each true-front point to its nearest sample."""
    Y, front = np.asarray(Y, dtype=np.float64), np.asarray(front, dtype=np.float64)
    d = np.sqrt(((front[:, None, :] - Y[None, :, :]) ** 2).sum(-1))
    return float(d.min(axis=1).mean())


def simplex_lattice(k: int, h: int) -> np.ndarray:
    """All weight vectors with entries in {0, 1/h, ..., 1} summing to 1 (Das-Dennis)."""
    pts = [c for c in itertools.product(range(h + 1), repeat=k) if sum(c) == h]
    return np.array(pts, dtype=np.float64) / h


def r2_indicator(Y: np.ndarray, utopia: Sequence[float] | None = None, h: int | None = None) -> float:
    """R2 = mean_lambda min_y max_i lambda_i |z*_i - y_i| (lower is better)."""
    Y = np.asarray(Y, dtype=np.float64)
    k = Y.shape[1]
    z = np.ones(k) if utopia is None else np.asarray(utopia, dtype=np.float64)
    lam = simplex_lattice(k, h or (20 if k <= 3 else 6))
    dev = np.abs(z[None, :] - Y)  # (n, k)
    return float((lam[:, None, :] * dev[None, :, :]).max(-1).min(-1).mean())


def report(Y: np.ndarray, names: Sequence[str], front: np.ndarray | None = None,
           ref: Sequence[float] | None = None) -> dict:
    """The multi-objective metrics of a set of (transformed) objective vectors, for evaluate."""
    Y = np.asarray(Y, dtype=np.float64)
    out = {"objectives": ",".join(names), "hypervolume": hypervolume(Y, ref), "r2": r2_indicator(Y),
           "pareto_front_size": int(len(pareto_front(Y)))}
    if front is not None:
        out["igd"] = igd(Y, front)
        out["hypervolume_true_front"] = hypervolume(front, ref)
    return out


def with_pareto_rank(df, task):
    """``df`` with the task's objective columns' ``pareto_rank`` (after ``reward``), or ``df`` as it
    is for a single-objective task. Ranks use the transformed objectives (what is optimised)."""
    comps = getattr(task, "components", None)
    if not comps or len(df) == 0 or "pareto_rank" in df.columns:
        return df
    col = task.object_column
    Y = WeightedSum(comps).transformed(task.objective_vectors(df[col].tolist()))
    df = df.copy()
    df.insert(df.columns.get_loc("reward") + 1, "pareto_rank", pareto_rank(Y))
    return df


def exact_front(task, limit: int = 65536) -> np.ndarray:
    """The true Pareto front (transformed objectives) of a sequence task small enough to score
    every object (A^L <= ``limit``): each object is scored once (cached afterwards)."""
    env = task.env
    alphabet, length = getattr(env, "alphabet", None), getattr(env, "length", None)
    if alphabet is None or length is None or len(alphabet) ** length > limit:
        raise InputError(f"--exact-front enumerates the object space; task {task.name!r} is not a sequence task "
                         f"with at most {limit:,} objects")
    objs = ["".join(p) for p in itertools.product(alphabet, repeat=length)]
    Y = np.concatenate([task.objective_vectors(objs[i:i + 4096]) for i in range(0, len(objs), 4096)])
    return pareto_front(WeightedSum(task.components).transformed(Y))


def objective_report(trainer, n: int = 1000, beta: float = 1.0, exact: bool = False) -> dict:
    """Multi-objective metrics of ``n`` samples at ``beta`` (hypervolume, R2, front size; IGD and
    the true front's hypervolume with ``exact``); a preference-conditioned sampler draws each sample
    at its own w from the training distribution (Jain et al.'s evaluation). Empty for a
    single-objective task."""
    task = trainer.task
    if not getattr(task, "components", None):
        return {}
    objs = trainer.env.to_strings(trainer.sample(n, beta=beta))
    if hasattr(task, "is_candidate"):
        objs = [o for o in objs if task.is_candidate(o)]
    Y = WeightedSum(task.components).transformed(task.objective_vectors(objs))
    out = report(Y, [c.name for c in task.components], exact_front(task) if exact else None)
    if getattr(trainer, "pref_dist", None) is not None:  # samples drawn at w ~ the training preferences
        out["preference_dist"] = trainer.cfg.preference_dist
    return out


# ---- preference conditioning: the pieces that need no network change ---------------------------
class PreferenceDist:
    """Preference vectors w ~ Dirichlet(alpha * 1_k), one per trajectory (Jain et al. 2023 use alpha = 1),
    drawn with a torch Generator so that a run stays reproducible and resumable: normalised
    Gamma(alpha) draws, and for alpha = 1 normalised Exp(1) = -log U draws (one uniform each)."""

    def __init__(self, k: int, alpha: float = 1.0) -> None:
        if k < 1 or not alpha > 0:
            raise InputError(f"a preference distribution needs k >= 1 objectives and alpha > 0, got {k}, {alpha}")
        self.k, self.alpha = int(k), float(alpha)

    def sample(self, n: int, device=None, gen=None):
        import torch

        if self.alpha == 1.0:
            u = torch.rand(n, self.k, generator=gen, device=device, dtype=torch.float64)
            g = -torch.log1p(-u)  # Exp(1), and 1 - u in (0, 1] keeps the log finite
        else:  # Gamma sampling rejects a random number of draws: a CPU generator seeded from ``gen``
            seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device).item())
            alphas = torch.full((n, self.k), self.alpha, dtype=torch.float64)
            g = torch._standard_gamma(alphas, generator=torch.Generator().manual_seed(seed)).to(device)
        return (g / g.sum(1, keepdim=True)).float()


def parse_preference(spec, names: Sequence[str]) -> np.ndarray:
    """A preference vector on the simplex: "0.7,0.1,0.1,0.1" (or k numbers) for the objectives
    ``names``, each >= 0, not all 0, scaled to sum 1."""
    k = len(names)
    try:
        w = np.array([float(v) for v in spec.split(",")] if isinstance(spec, str) else spec, dtype=np.float64)
    except (TypeError, ValueError):
        w = np.array([np.nan])
    if w.shape != (k,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InputError(f"--preference must be {k} numbers >= 0 (not all 0) separated by commas, one per objective "
                         f"({','.join(names)}), e.g. {','.join(['1'] + ['0'] * (k - 1))}; got {spec!r}")
    return w / w.sum()


def default_preferences(k: int) -> np.ndarray:
    """The k corners of the simplex (one objective each) and its centre (equal weights)."""
    return np.vstack([np.eye(k), np.full((1, k), 1.0 / k)])


def format_preference(w) -> str:
    return ",".join(f"{float(v):.3g}" for v in w)


def preference_candidates(trainer, prefs=None, num_samples: int = 1000, top: int | None = 100,
                          betas: Sequence[float] = (1.0,), min_distance: int = 0, max_similarity: float = 1.0,
                          max_per_scaffold: int = 0, descriptors: bool = True):
    """The candidate list of a preference-conditioned sampler: for each preference w (default: the
    k corners and the centre of the simplex) and beta, ``num_samples`` draws at (beta, w), ranked by
    sum_i w_i t_i(y_i) (what R(x | w) orders), thinned and cut to ``top``; the lists merged (an object
    listed at several w is kept once; ``preference`` names every w that listed it), Pareto-ranked over
    the merged list and sorted by ``pareto_rank`` then reward, cut to ``top`` rows."""
    import pandas as pd

    from .candidates import candidate_table, diverse_rows

    task = trainer.task
    names = [c.name for c in task.components]
    scoring = WeightedSum(task.components)
    col = task.object_column
    prefs = default_preferences(len(names)) if prefs is None or len(prefs) == 0 else \
        [parse_preference(w, names) for w in prefs]
    mol = "smiles" if col == "smiles" or task.smiles([]) is not None else None
    parts = []
    for b in betas:
        for w in prefs:
            df = candidate_table(trainer, trainer.sample(num_samples, beta=b, pref=w), top=None, samples_only=True,
                                 descriptors=False, beta=b if len(betas) > 1 else None)
            if len(df) == 0:
                continue
            score = scoring.transformed(df[names].to_numpy()) @ np.asarray(w)
            df = df.assign(_score=score).sort_values(["_score", "reward"], ascending=False, kind="stable")
            by_mol = mol is not None and (max_similarity < 1.0 or max_per_scaffold > 0)
            df = diverse_rows(df, top, mol if by_mol else col, min_distance, max_similarity,
                              max_per_scaffold if mol else 0)
            parts.append(df.assign(preference=format_preference(w)))
    if not parts:
        return candidate_table(trainer, None, top=0, descriptors=False)
    df = pd.concat(parts, ignore_index=True).drop(columns=["_score", "rank"])
    listed_at = df.groupby(col, sort=False)["preference"].agg(lambda p: ";".join(dict.fromkeys(p)))
    df = df.drop_duplicates(col, keep="first")
    df = with_pareto_rank(df.assign(preference=df[col].map(listed_at)), task)
    df = df.sort_values(["pareto_rank", "reward"], ascending=[True, False], kind="stable")
    df = df if top is None else df.head(top)
    df.insert(df.columns.get_loc("pareto_rank") + 1, "preference", df.pop("preference"))
    df.insert(0, "rank", range(1, len(df) + 1))
    if mol is not None and descriptors and "smiles" in df.columns:
        from .chem.descriptors import add_descriptors

        df = add_descriptors(df, "smiles")
    return df.reset_index(drop=True)


def conditional_log_reward(Y, w, reward_exponent: float, raw_floor: float = 1e-3, log_scale: float = 0.0):
    """log R(x | w) = log_scale + b * log(max(sum_i w_i y_i, floor)) for transformed objectives
    Y (B, k) and preferences w (B, k): the weighted-sum reward of a preference-conditioned GFlowNet,
    recomputed for any w from the stored objective vectors (replay with new preferences)."""
    import torch

    Y = torch.as_tensor(Y, dtype=torch.float64)
    w = torch.as_tensor(w, dtype=torch.float64).to(Y.device)
    r = (Y * w).sum(-1).clamp(min=raw_floor)
    return log_scale + reward_exponent * torch.log(r)
