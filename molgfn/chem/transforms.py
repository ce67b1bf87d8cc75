"""Score transforms and aggregations of scoring files, with REINVENT 4's definitions.

Each transform maps a component's raw value x to a score, usually in [0, 1]. The formulas are
those of REINVENT 4 (MolecularAI/REINVENT4, ``reinvent/scoring/transforms/sigmoids.py``,
``double_sigmoid.py``, ``sigmoid_functions.py``, ``steps.py``, ``value_mapping.py`` and
``reinvent/scoring/aggregators/means.py``), written here from those definitions:

- ``sigmoid`` (low, high, k):        t(x) = 1 / (1 + 10^(-10 k (x - (low + high) / 2) / (high - low)))
                                     (0.5 at the midpoint; low == high: a hard step, 1 where x > low)
- ``reverse_sigmoid`` (low, high, k): 1 - sigmoid
- ``double_sigmoid`` (low, high, coef_div = 100, coef_si = 150, coef_se = 150), c = (low + high) / 2:
                                     x <  c: 1 / (1 + 10^(-(coef_si / coef_div) (x - low)))
                                     x >= c: 1 - 1 / (1 + 10^(-(coef_se / coef_div) (x - high)))
                                     (0.5 at low and at high, close to 1 between them)
- ``step`` (low, high):              1 if low <= x <= high else 0
- ``value_mapping`` (mapping):       mapping[str(x)] (an integral x also matches its integer key,
                                     so hbd 2 matches "2"); a value not in the mapping gives NaN
- ``identity``:                      x

Aggregation over k components with weights w_i (normalised to sum 1 over the components that
have a score for the molecule: a NaN score, an unmapped value, is left out as in REINVENT):

- ``sum``:       r(x) = sum_i w_i t_i
- ``geometric``: r(x) = prod_i t_i^(w_i)   (REINVENT's default)

One difference from REINVENT, on purpose: REINVENT's geometric mean clamps each score at 1e-8,
so a zero component still leaves a small positive product; here a score of 0 (a forbidden
substructure, a step outside its range) makes the product 0, so the molecule gets the task's
floor reward, as the scoring-file interface promises. Negative scores (an identity-transformed
oracle) count as 0 in the geometric mean.
"""

from __future__ import annotations

import math

import numpy as np

AGGREGATIONS = ("geometric", "sum")
# transform type -> (required parameters, optional parameters with their defaults)
TRANSFORMS: dict[str, tuple[tuple[str, ...], dict[str, float]]] = {
    "identity": ((), {}),
    "sigmoid": (("low", "high"), {"k": 0.5}),
    "reverse_sigmoid": (("low", "high"), {"k": 0.5}),
    "double_sigmoid": (("low", "high"), {"coef_div": 100.0, "coef_si": 150.0, "coef_se": 150.0}),
    "step": (("low", "high"), {}),
    "value_mapping": (("mapping",), {}),
}


def _logistic10(h: np.ndarray) -> np.ndarray:
    """1 / (1 + 10^-h), without overflow for large |h|."""
    return 1.0 / (1.0 + np.power(10.0, np.clip(-h, -300.0, 300.0)))


def sigmoid(x, low: float, high: float, k: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mid = 0.5 * (low + high)
    if high == low:
        return (k * (x - mid) > 0).astype(np.float64)
    return _logistic10(10.0 * k * (x - mid) / (high - low))


def double_sigmoid(x, low: float, high: float, coef_div: float = 100.0, coef_si: float = 150.0,
                   coef_se: float = 150.0) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    left = x < 0.5 * (low + high)
    if coef_div == 0:
        return np.where(left, (coef_si * (x - low) > 0).astype(np.float64),
                        1.0 - (coef_se * (x - high) > 0).astype(np.float64))
    return np.where(left, _logistic10(coef_si / coef_div * (x - low)),
                    1.0 - _logistic10(coef_se / coef_div * (x - high)))


def value_mapping(x, mapping: dict[str, float]) -> np.ndarray:
    out = []
    for v in np.asarray(x, dtype=np.float64).tolist():
        keys = [str(v)] + ([str(int(v))] if math.isfinite(v) and v == int(v) else [])
        out.append(next((float(mapping[k]) for k in keys if k in mapping), math.nan))
    return np.array(out, dtype=np.float64)


def apply(transform: dict, x) -> np.ndarray:
    """A transform given as ``{"type": ..., parameters...}`` (checked by ``check_transform``) applied to x."""
    kind = transform.get("type", "identity")
    p = {**TRANSFORMS[kind][1], **{k: v for k, v in transform.items() if k != "type"}}
    x = np.asarray(x, dtype=np.float64)
    if kind == "identity":
        return x
    if kind == "sigmoid":
        return sigmoid(x, p["low"], p["high"], p["k"])
    if kind == "reverse_sigmoid":
        return 1.0 - sigmoid(x, p["low"], p["high"], p["k"])
    if kind == "double_sigmoid":
        return double_sigmoid(x, p["low"], p["high"], p["coef_div"], p["coef_si"], p["coef_se"])
    if kind == "step":
        return ((x >= p["low"]) & (x <= p["high"])).astype(np.float64)
    if kind == "value_mapping":
        return value_mapping(x, p["mapping"])
    raise ValueError(f"unknown transform {kind!r}")


def check_transform(transform) -> str | None:
    """Why ``transform`` (a table with ``type`` and its parameters) is not usable, or None."""
    if not isinstance(transform, dict):
        return f"transform must be a table like {{type = \"sigmoid\", low = 0, high = 1}}, got {transform!r}"
    kind = transform.get("type")
    if kind not in TRANSFORMS:
        return f"transform type {kind!r} is unknown; choose from {', '.join(TRANSFORMS)}"
    need, optional = TRANSFORMS[kind]
    missing = [k for k in need if k not in transform]
    if missing:
        return f"transform {kind} needs {', '.join(missing)}"
    unknown = [k for k in transform if k != "type" and k not in need and k not in optional]
    if unknown:
        return (f"transform {kind} has no parameter {', '.join(unknown)}; its parameters are "
                f"{', '.join([*need, *optional]) or 'none'}")
    if kind == "value_mapping":
        m = transform["mapping"]
        if not isinstance(m, dict) or not m:
            return "value_mapping needs mapping = {\"value\" = score, ...} with at least one entry"
        bad = [k for k, v in m.items() if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)]
        return f"value_mapping scores must be numbers; not those of {', '.join(map(repr, bad))}" if bad else None
    nums = {k: v for k, v in transform.items() if k != "type"}
    bad = [k for k, v in nums.items() if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)]
    if bad:
        return f"transform {kind}: {', '.join(bad)} must be finite numbers"
    if "low" in nums and nums["low"] > nums["high"]:
        return f"transform {kind} needs low <= high, got low = {nums['low']}, high = {nums['high']}"
    if kind == "double_sigmoid" and nums["low"] == nums["high"]:
        return "transform double_sigmoid needs low < high"
    return None


def aggregate(scores: np.ndarray, weights, how: str) -> np.ndarray:
    """(n, k) transformed scores and k weights -> n aggregate scores (see the module docstring)."""
    S = np.asarray(scores, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] == 0:
        return np.zeros(S.shape[0] if S.ndim else 0)
    W = np.broadcast_to(np.asarray(weights, dtype=np.float64), S.shape).copy()
    missing = np.isnan(S)
    W[missing] = 0.0
    total = W.sum(axis=1, keepdims=True)
    W = np.divide(W, total, out=np.zeros_like(W), where=total > 0)
    S = np.where(missing, 0.0, S)
    if how == "sum":
        out = (W * S).sum(axis=1)
    elif how == "geometric":
        S = np.maximum(S, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(W > 0, W * np.log(S), 0.0)
        out = np.exp(logs.sum(axis=1))
    else:
        raise ValueError(f"unknown aggregation {how!r}")
    return np.where(total[:, 0] > 0, out, 0.0)
