"""The sehstr proxy: a gradient-boosted tree ensemble, evaluated in torch without scikit-learn.

Tree arrays (one row per tree, padded to the largest tree): ``value``, ``feature_idx``,
``num_threshold``, ``left``, ``right``, ``is_leaf``, ``missing_go_to_left`` (each (T, M)),
``n_nodes`` (T,) and ``baseline`` (1,). Prediction = baseline + sum over trees of the value of
the leaf reached from node 0, going left when ``x[feature] <= threshold`` (and, for NaN,
when ``missing_go_to_left``). Inputs are the position-major one-hot of 6 positions x 18
blocks: feature ``p * 18 + block``.

Two evaluators, both vectorised over samples and trees:
  * general features: iterate over depth (leaves point to themselves, so a fixed number of
    steps, the ensemble's depth, reaches every leaf), following x[feature] <= threshold;
  * block indices / one-hot inputs (the sehstr case): every split asks "is block b at
    position p?", so each leaf is a set of allowed blocks per position. Bit masks of the
    leaves each (position pair, block pair) allows are AND-ed across positions, leaving one
    bit per tree (about 25x faster than walking).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .blocks import BLOCK_ALPHABET

SEHSTR_LENGTH = 6
SEHSTR_BLOCKS = 18
SEHSTR_ALPHABET = BLOCK_ALPHABET[:SEHSTR_BLOCKS]

TREE_KEYS = ("value", "feature_idx", "num_threshold", "left", "right", "is_leaf", "missing_go_to_left")

_SKL = "sklearn.ensemble._hist_gradient_boosting."
SKLEARN_STUBS = (
    _SKL + "gradient_boosting.HistGradientBoostingRegressor",
    _SKL + "predictor.TreePredictor",
    _SKL + "binning._BinMapper",
    _SKL + "loss.LeastSquares",
)


# ----------------------------------------------------------------------------- loading


def load_tree_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Tree arrays from an npz (no pickles allowed)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    missing = [k for k in (*TREE_KEYS, "n_nodes", "baseline") if k not in arrays]
    if missing:
        raise ValueError(f"{path}: tree arrays lack {missing}")
    return arrays


def trees_from_sklearn_pickle(path: str | Path) -> dict[str, np.ndarray]:
    """Tree arrays of a pickled scikit-learn HistGradientBoostingRegressor, read without scikit-learn.

    The pickle is loaded with the restricted unpickler; the estimator, its predictors, bin mapper
    and loss become inert stubs whose attributes are read here.
    """
    from ..safe_pickle import safe_load, stub_classes

    model = safe_load(path, stub_classes(*SKLEARN_STUBS))
    try:
        predictors = model._predictors
        baseline = float(np.asarray(model._baseline_prediction).reshape(-1)[0])
    except AttributeError as e:
        raise ValueError(f"{path}: not a HistGradientBoostingRegressor pickle ({e})") from None
    nodes = []
    for i, per_iter in enumerate(predictors):
        if len(per_iter) != 1:
            raise ValueError(f"{path}: iteration {i} has {len(per_iter)} trees; only regression is supported")
        n = per_iter[0].nodes
        if n["is_categorical"].any() if "is_categorical" in n.dtype.names else False:
            raise ValueError(f"{path}: categorical splits are not supported")
        nodes.append(n)
    t, m = len(nodes), max(len(n) for n in nodes)
    dtypes = {"value": np.float64, "feature_idx": np.uint32, "num_threshold": np.float64,
              "left": np.uint32, "right": np.uint32, "is_leaf": np.uint8, "missing_go_to_left": np.uint8}
    out = {k: np.zeros((t, m), dtype=dt) for k, dt in dtypes.items()}
    out["is_leaf"][:] = 1  # padding nodes are unreachable leaves
    for i, n in enumerate(nodes):
        for k in TREE_KEYS:
            out[k][i, : len(n)] = n[k]
    out["n_nodes"] = np.array([len(n) for n in nodes], dtype=np.int64)
    out["baseline"] = np.array([baseline], dtype=np.float64)
    return out


# ----------------------------------------------------------------------------- encoding


def strings_to_tokens(strings: Sequence[str], length: int = SEHSTR_LENGTH,
                      alphabet: str = SEHSTR_ALPHABET) -> torch.Tensor:
    """(N, length) int64 block indices of equal-length block strings (vectorised via bytes)."""
    n = len(strings)
    if n == 0:
        return torch.zeros((0, length), dtype=torch.int64)
    try:
        raw = "".join(strings).encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("block strings must be ASCII") from None
    if len(raw) != n * length or any(len(s) != length for s in strings):
        bad = next(s for s in strings if len(s) != length)
        raise ValueError(f"string {bad!r} has length {len(bad)}, expected {length}")
    lut = np.full(256, -1, dtype=np.int64)
    for i, c in enumerate(alphabet):
        lut[ord(c)] = i
        lut[ord(c.upper())] = i
    tok = lut[np.frombuffer(raw, dtype=np.uint8)].reshape(n, length)
    if (tok < 0).any():
        row = int(np.nonzero((tok < 0).any(1))[0][0])
        raise ValueError(f"string {strings[row]!r} has a character outside {alphabet!r}")
    return torch.from_numpy(tok)


def one_hot(tokens: torch.Tensor, n_blocks: int = SEHSTR_BLOCKS) -> torch.Tensor:
    """Position-major one-hot (N, L * n_blocks) float32 of (N, L) block indices."""
    tokens = torch.as_tensor(tokens, dtype=torch.int64)
    return torch.nn.functional.one_hot(tokens, n_blocks).reshape(tokens.shape[0], -1).float()


# ----------------------------------------------------------------------------- evaluation


class TreeEnsemble:
    """Vectorised evaluator of tree arrays; ``ens(x)`` for (N, F) features, ``ens.predict_tokens(t)``."""

    def __init__(self, arrays: dict[str, np.ndarray], device: str | torch.device | None = None,
                 n_blocks: int = SEHSTR_BLOCKS, chunk_size: int = 1024) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.n_blocks = n_blocks
        self.chunk_size = chunk_size
        is_leaf = np.asarray(arrays["is_leaf"]).astype(bool)
        t, m = is_leaf.shape
        self.n_trees, self.max_nodes = t, m
        self.baseline = float(np.asarray(arrays["baseline"]).reshape(-1)[0])
        feat = np.asarray(arrays["feature_idx"]).astype(np.int64)
        thr = np.asarray(arrays["num_threshold"]).astype(np.float64)
        left = np.asarray(arrays["left"]).astype(np.int64)
        right = np.asarray(arrays["right"]).astype(np.int64)
        mgl = np.asarray(arrays["missing_go_to_left"]).astype(bool)
        n_nodes = np.asarray(arrays.get("n_nodes", np.full(t, m))).astype(np.int64)
        self.n_features = int(feat[~is_leaf].max()) + 1 if (~is_leaf).any() else 0
        # leaves: feature 0, threshold +inf (always "left"), both children = the leaf itself
        own = np.broadcast_to(np.arange(m), (t, m))
        feat = np.where(is_leaf, 0, feat)
        thr = np.where(is_leaf, np.inf, thr)
        left = np.where(is_leaf, own, left)
        right = np.where(is_leaf, own, right)
        mgl = np.where(is_leaf, True, mgl)
        limit = n_nodes[:, None]
        bad = (~is_leaf) & ((left >= limit) | (right >= limit) | (left < 0) | (right < 0))
        if bad.any():
            raise ValueError("tree arrays have child indices outside their trees")
        self.depth = _depth(left, right, is_leaf)
        dev = self.device
        # node ids are 2 * (tree * m + node): the lowest bit then picks a child in one lookup,
        # child = table[id + bit]; every per-node table is stored twice (entries 2i and 2i + 1)
        base = (np.arange(t) * m)[:, None]
        left_id = 2 * (left + base).reshape(-1)
        right_id = 2 * (right + base).reshape(-1)
        flat_thr = thr.reshape(-1)

        def twice(a: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
            return torch.as_tensor(np.repeat(a.reshape(-1), 2), dtype=dtype, device=dev)

        def pair(even: np.ndarray, odd: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.stack([even, odd], 1).reshape(-1), device=dev)

        self._feat = twice(feat)
        self._thr = twice(thr, torch.float64)
        self._mgl = twice(mgl)
        self._value = twice(np.asarray(arrays["value"], dtype=np.float64))
        self._child_lr = pair(left_id, right_id)  # bit = 1 goes right
        # one-hot inputs (x in {0, 1}): the branch for each value is fixed per node; bit = x
        self._child_x = pair(np.where(0.0 <= flat_thr, left_id, right_id),
                             np.where(1.0 <= flat_thr, left_id, right_id))
        self._roots = torch.as_tensor(2 * base[:, 0], device=dev)
        self._eye = torch.arange(n_blocks, device=dev)
        self._tree_np = (feat, thr, left, right, is_leaf, np.asarray(arrays["value"], dtype=np.float64))
        self._mask_tables: dict[int, tuple[list[torch.Tensor], torch.Tensor] | None] = {}

    @classmethod
    def from_npz(cls, path: str | Path, **kw) -> TreeEnsemble:
        return cls(load_tree_arrays(path), **kw)

    @classmethod
    def from_asset(cls, data_dir: str | Path | None = None, **kw) -> TreeEnsemble:
        """The ``sehstr-trees`` arrays, or, when only the original scikit-learn pickle
        (``sehstr-proxy``) is at hand, the same arrays read from it."""
        from ..assets import resolve, status

        if status("sehstr-trees", data_dir)[0] != "ok" and status("sehstr-proxy", data_dir)[0] == "ok":
            return cls(trees_from_sklearn_pickle(resolve("sehstr-proxy", data_dir)), **kw)
        return cls.from_npz(resolve("sehstr-trees", data_dir), **kw)

    def _chunks(self, fn, a: torch.Tensor) -> torch.Tensor:
        out = [fn(a[i: i + self.chunk_size]) for i in range(0, a.shape[0], self.chunk_size)]
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64, device=self.device)

    # -- features -----------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Predictions (N,) float64 for features x (N, F), any float dtype; NaN follows missing_go_to_left."""
        x = torch.as_tensor(x, device=self.device).to(torch.float64)
        if x.ndim != 2 or x.shape[1] < self.n_features:
            raise ValueError(f"expected features of shape (N, >={self.n_features}), got {tuple(x.shape)}")
        nb = self.n_blocks
        if x.shape[0] and x.shape[1] % nb == 0 and not torch.isnan(x).any():
            grouped = x.reshape(x.shape[0], -1, nb)
            if bool(((grouped == 0) | (grouped == 1)).all()) and bool((grouped.sum(-1) == 1).all()):
                return self.predict_tokens(grouped.argmax(-1))  # a one-hot: use the fast path
        return self._chunks(self._walk_features, x)

    def _walk_features(self, x: torch.Tensor) -> torch.Tensor:
        node = self._roots.expand(x.shape[0], -1).contiguous()
        has_nan = bool(torch.isnan(x).any())
        for _ in range(self.depth):
            xv = torch.gather(x, 1, self._feat[node])
            go_left = xv <= self._thr[node]
            if has_nan:
                go_left |= torch.isnan(xv) & self._mgl[node]
            node = self._child_lr[node + (~go_left).long()]
        return self._value[node].sum(1) + self.baseline

    # -- block indices ------------------------------------------------------------------
    @torch.no_grad()
    def predict_tokens(self, tokens: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Predictions (N,) float64 for (N, L) block indices (the one-hot is built per chunk)."""
        tokens = torch.as_tensor(tokens, device=self.device).to(torch.int64)
        if tokens.ndim != 2 or tokens.shape[1] * self.n_blocks < self.n_features:
            raise ValueError(f"expected (N, L) block indices covering {self.n_features} features, "
                             f"got {tuple(tokens.shape)}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.n_blocks):
            raise ValueError(f"block indices must lie in 0..{self.n_blocks - 1}")
        tables = self._leaf_mask_tables(tokens.shape[1])
        if tables is None:  # trees too large for 63-bit leaf masks: walk them
            return self._chunks(self._walk_tokens, tokens)
        return self._chunks(lambda t: self._mask_tokens(t, *tables), tokens)

    def _mask_tokens(self, tok: torch.Tensor, pair_tables: list[torch.Tensor],
                     leaf_value: torch.Tensor) -> torch.Tensor:
        nb = self.n_blocks
        mask = None
        for j, table in enumerate(pair_tables):
            idx = tok[:, 2 * j] * nb + (tok[:, 2 * j + 1] if 2 * j + 1 < tok.shape[1] else 0)
            m = table.index_select(0, idx)  # (N, T) masks of the leaves these two positions allow
            mask = m if mask is None else mask.bitwise_and_(m)
        # exactly one bit is left per tree: the reached leaf; log2 of a power of two is exact
        bit = torch.log2(mask.to(torch.float64)).long()
        offsets = torch.arange(self.n_trees, device=self.device) * 63
        return leaf_value[bit + offsets].sum(1) + self.baseline

    def _leaf_mask_tables(self, length: int) -> tuple[list[torch.Tensor], torch.Tensor] | None:
        """Per pair of positions, (n_blocks^2, T) int64 masks of the leaves that block pair allows.

        With one-hot inputs every split asks "is block b at position p?", so a leaf is reached
        exactly when each position's block lies in the set its path allows; AND-ing the masks of
        all positions leaves one bit per tree. None when a tree has more than 63 leaves.
        """
        if length in self._mask_tables:
            return self._mask_tables[length]
        feat, thr, left, right, is_leaf, value = self._tree_np
        nb, t = self.n_blocks, self.n_trees
        if is_leaf.sum(1).max() > 63:
            self._mask_tables[length] = None
            return None
        masks = np.zeros((length, nb, t), dtype=np.int64)
        leaf_value = np.zeros((t, 63), dtype=np.float64)
        for ti in range(t):
            k = 0
            stack = [(0, np.ones((length, nb), dtype=bool))]
            while stack:
                node, allowed = stack.pop()
                if is_leaf[ti, node]:
                    masks[:, :, ti] |= np.where(allowed, np.int64(1) << k, 0)
                    leaf_value[ti, k] = value[ti, node]
                    k += 1
                    continue
                p, b = divmod(int(feat[ti, node]), nb)
                one = allowed.copy()
                one[p] &= np.arange(nb) == b
                zero = allowed.copy()
                zero[p, b] = False
                pick = (left[ti, node], right[ti, node])
                stack.append((pick[0] if 1.0 <= thr[ti, node] else pick[1], one))
                stack.append((pick[0] if 0.0 <= thr[ti, node] else pick[1], zero))
        pairs = []
        for j in range(0, length, 2):
            second = masks[j + 1] if j + 1 < length else np.full((nb, t), -1, dtype=np.int64)
            pairs.append(torch.as_tensor((masks[j][:, None, :] & second[None, :, :]).reshape(nb * nb, t),
                                         device=self.device))
        tables = (pairs, torch.as_tensor(leaf_value.reshape(-1), device=self.device))
        self._mask_tables[length] = tables
        return tables

    def _walk_tokens(self, tok: torch.Tensor) -> torch.Tensor:
        x = (tok[:, :, None] == self._eye).reshape(tok.shape[0], -1).long()  # one-hot as 0/1 int64
        node = self._roots.expand(tok.shape[0], -1).contiguous()
        for _ in range(self.depth):
            node = self._child_x[node + torch.gather(x, 1, self._feat[node])]
        return self._value[node].sum(1) + self.baseline

    def score_strings(self, strings: Sequence[str]) -> torch.Tensor:
        """Predictions (N,) float64 for sehstr strings such as 'ag550c'."""
        length = -(-self.n_features // self.n_blocks) if self.n_features else SEHSTR_LENGTH
        return self.predict_tokens(strings_to_tokens(strings, max(length, SEHSTR_LENGTH),
                                                     BLOCK_ALPHABET[: self.n_blocks]))


def _depth(left: np.ndarray, right: np.ndarray, is_leaf: np.ndarray) -> int:
    """Largest root-to-leaf edge count over all trees (vectorised over trees)."""
    depth = 0
    active = np.zeros_like(is_leaf)
    active[:, 0] = True
    while True:
        inner = active & ~is_leaf
        if not inner.any():
            return depth
        nxt = np.zeros_like(active)
        r, c = np.nonzero(inner)
        nxt[r, left[r, c]] = True
        nxt[r, right[r, c]] = True
        active = nxt
        depth += 1
        if depth > left.shape[1]:
            raise ValueError("tree arrays contain a cycle")


@lru_cache(maxsize=4)
def _ensemble_at(path: str) -> TreeEnsemble:
    return TreeEnsemble.from_npz(path)


def score_strings(strings: Sequence[str], ensemble: TreeEnsemble | None = None,
                  data_dir: str | Path | None = None) -> torch.Tensor:
    """sehstr proxy values (N,) float64 of block strings; uses the ``sehstr-trees`` asset by default."""
    if ensemble is None:
        from ..assets import resolve

        ensemble = _ensemble_at(str(resolve("sehstr-trees", data_dir)))
    return ensemble.score_strings(strings)
