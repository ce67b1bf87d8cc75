"""Scoring files: a chemist's objective as components, transforms and one aggregation (REINVENT 4's model).

A scoring file is TOML (``--scoring scoring.toml``); the library takes the same structure as a dict::

    aggregation = "geometric"                  # or "sum", or "preference" (default: geometric, as REINVENT)
    [[component]]
    kind = "qed"                               # a descriptor column (DESCRIPTORS)
    weight = 1.0                               # >= 0 (default 1)
    transform = { type = "sigmoid", low = 0.3, high = 0.9 }   # molgfn.chem.transforms (default identity)
    [[component]]
    kind = "similarity"                        # Tanimoto to reference molecules
    smiles = ["CC(=O)Oc1ccccc1C(=O)O"]
    mode = "max"                               # or "mean" over the references
    radius = 2                                 # Morgan fingerprint radius and bits (molgfn's: 2, 1024)
    bits = 1024
    [[component]]
    kind = "substructure"                      # SMARTS; the raw value is how many of them match
    smarts = ["[NX3;!R][NX3;!R]"]
    file = "alerts.txt"                        # and/or a file: one SMARTS a line (a name may follow; # comments)
    forbid = true                              # forbidden: score 0 on any hit (the floor, under geometric);
                                               # required (false): score 1 on any hit, else 0
    [[component]]
    kind = "alerts"                            # the same as substructure with forbid = true
    [[component]]
    kind = "oracle"                            # your function, list of SMILES -> one number each
    oracle = "package.module:function"
    [[component]]
    kind = "vina"                              # AutoDock Vina score in kcal/mol (molgfn.chem.docking)
    target = "DRD2"                            # a dockstring target, or receptor = "FILE.pdbqt" with
    center = [9.9, 5.1, -10.4]                 # center and size (Angstrom; optional with a target:
    size = [20, 20, 20]                        # they override its box)
    exhaustiveness = 8                         # Vina's search effort (default 8) and its seed (default 0)
    seed = 0
    transform = { type = "reverse_sigmoid", low = -12, high = -6, k = 0.5 }   # required: lower is better

``aggregation = "preference"`` makes the components the objectives of a preference-conditioned run
(Jain et al., ICML 2023; ``molgfn.moo``): each component's score s_i(x) is one entry of the objective
vector, the sampler is trained for every weighting w ~ Dirichlet (``--preference-dist``, dirichlet:1 by
default) with R(x | w) = max(sum_i w_i s_i(x), floor)^b, and the file's weights are the fixed weighting
of ``raw_score`` (the weighted sum, as ``"sum"``). Forbidden substructures (``substructure`` with
``forbid = true``, ``alerts``) are not objectives there but hard constraints, as under the geometric
mean: a hit gives the floor reward at every w. At least two components must be objectives.

Every component may have a ``name`` (default: its kind, numbered when repeated); its raw value and
its score become the columns ``NAME_raw`` and ``NAME_score`` of candidate lists and of ``molgfn score``.
A component whose raw values are not scores in [0, 1] (molecular weight, cLogP, a Vina score ...) needs a
transform. A ``vina`` component docks each molecule (the slowest kind by far: seconds a molecule, run in
worker processes); its best pose is kept beside the scores in the score store and becomes the molecule's
coordinates in SDF lists (of the first ``vina`` component, when there are several). ``kind = "admet"``
(ADMET-AI's models) is reserved: see ``ADMET_UNAVAILABLE``.
Every error names the file, the component (1-based) and its kind, and what to do, in one line.

The normalised structure (``Scoring.spec``: alert files read into ``smarts``, defaults filled in) is
what a run records in its config.json, so a resumed run scores with the same content.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import transforms as tf

DESCRIPTORS = ("qed", "sa_score", "clogp", "tpsa", "mol_weight", "hbd", "hba", "rotatable_bonds",
               "lipinski_violations", "lipinski_pass", "veber_pass")
UNIT_KINDS = ("qed", "lipinski_pass", "veber_pass", "similarity", "oracle")  # usable without a transform
KINDS = (*DESCRIPTORS, "similarity", "substructure", "alerts", "oracle", "vina", "admet")
COMMON_KEYS = ("kind", "name", "weight", "transform")
KIND_KEYS = {"similarity": ("smiles", "mode", "radius", "bits"), "substructure": ("smarts", "file", "forbid"),
             "alerts": ("smarts", "file", "forbid"), "oracle": ("oracle",),
             "vina": ("target", "receptor", "center", "size", "exhaustiveness", "seed"), "admet": ("property",)}
VINA_TRANSFORM = 'transform = {type = "reverse_sigmoid", low = -12, high = -6, k = 0.5}'
# admet-ai 2.0.1 (PyPI's newest when this was written) needs chemprop >= 2.2.2, whose dependency
# cuik_molmaker_pin pins rdkit == 2026.03.6: installing it would replace molgfn's RDKit (see the README)
ADMET_UNAVAILABLE = ("ADMET-AI predictions are not available: the admet-ai package cannot be installed beside "
                     "molgfn (its chemprop 2.x dependency pins another RDKit version, which would replace "
                     "molgfn's); score your ADMET model with kind = \"oracle\", oracle = \"package.module:function\"")
TOP_KEYS = ("aggregation", "component")
# names whose NAME_score column is already a column of candidate lists
RESERVED_NAMES = {"raw": "the aggregate score", "sa": "the SA score descriptor"}
PREFERENCE = "preference"  # the components as the objectives of a preference-conditioned run
SCORING_AGGREGATIONS = (*tf.AGGREGATIONS, PREFERENCE)


class ScoringError(InputError):
    """A scoring file (or dict) that cannot be used; the message names the file, component and fix."""


def _close(word: str, choices) -> str:
    near = difflib.get_close_matches(str(word), list(choices), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(near)}?)" if near else ""


class _Where:
    """Formats one-line errors: ``scoring file X: component 2 (kind similarity): problem``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, problem: str, index: int | None = None, kind: str | None = None) -> ScoringError:
        where = f"{self.source}: " + (f"component {index}" + (f" (kind {kind})" if kind else "") + ": "
                                      if index is not None else "")
        return ScoringError(where + problem)


def _read_toml(path: Path) -> dict:
    import tomllib

    where = _Where(f"scoring file {path}")
    if not path.is_file():
        raise where.error("does not exist (or is a folder); give the path of a TOML scoring file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise where.error(f"is not valid TOML ({e}); fix the line it names") from None
    except UnicodeDecodeError:
        raise where.error("is not UTF-8 text; save it as UTF-8") from None
    except OSError as e:
        raise where.error(f"cannot be read ({e.strerror or e})") from None


def read_smarts_file(path: Path) -> list[str]:
    """SMARTS of an alert file: one a line, optionally followed by whitespace and a name; lines starting
    with # are comments."""
    text = path.read_text(encoding="utf-8")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):  # only whole-line comments: # is also SMARTS (atomic numbers)
            out.append(line.split()[0])
    return out


def _number(where: _Where, i: int, kind: str, key: str, value, lo: float | None = None, integer: bool = False):
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or (lo is not None and value < lo):
        what = "an integer" if integer else "a finite number"
        raise where.error(f"{key} must be {what}" + (f" >= {lo:g}" if lo is not None else "") + f", got {value!r}",
                          i, kind)
    return int(value) if integer else float(value)


def _string_list(where: _Where, i: int, kind: str, key: str, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise where.error(f"{key} must be a list of strings, like {key} = [\"...\"], got {value!r}", i, kind)
    return [v.strip() for v in value]


def _component(where: _Where, i: int, raw, base_dir: Path) -> dict:
    if not isinstance(raw, dict):
        raise where.error(f"must be a table ([[component]] with kind = ...), got {raw!r}", i)
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise where.error(f"kind {kind!r} is unknown{_close(kind, KINDS)}; choose from {', '.join(KINDS)}", i)
    if kind == "admet":
        raise where.error(ADMET_UNAVAILABLE, i, kind)
    allowed = (*COMMON_KEYS, *KIND_KEYS.get(kind, ()))
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise where.error(f"has no key {unknown[0]!r}{_close(unknown[0], allowed)}; its keys are "
                          f"{', '.join(allowed)}", i, kind)
    c: dict = {"kind": kind}
    name = raw.get("name", kind)
    if not isinstance(name, str) or not name.strip() or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise where.error(f"name must be letters, digits, _ or - (it names the columns NAME_raw, NAME_score), "
                          f"got {name!r}", i, kind)
    if name in RESERVED_NAMES:
        raise where.error(f"name {name!r} would give the column {name}_score, which candidate lists already have "
                          f"({RESERVED_NAMES[name]}); give it another name", i, kind)
    c["name"] = name
    c["weight"] = _number(where, i, kind, "weight", raw.get("weight", 1.0), lo=0.0)
    if "transform" in raw:
        if kind in ("substructure", "alerts"):
            raise where.error("takes no transform (its score is 0 or 1); drop the transform", i, kind)
        why = tf.check_transform(raw["transform"])
        if why:
            raise where.error(f"{why}", i, kind)
        c["transform"] = {k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
                          for k, v in raw["transform"].items()}
        if "mapping" in c["transform"]:
            c["transform"]["mapping"] = {str(k): float(v) for k, v in c["transform"]["mapping"].items()}
    elif kind == "vina":
        raise where.error(f"Vina scores are kcal/mol, lower binding better: give a transform to a score in [0, 1], "
                          f"e.g. {VINA_TRANSFORM}", i, kind)
    elif kind not in (*UNIT_KINDS, "substructure", "alerts"):
        raise where.error(f"{kind} values are not scores in [0, 1]: give a transform, e.g. transform = "
                          "{type = \"sigmoid\", low = ..., high = ...} (or reverse_sigmoid, double_sigmoid, step, "
                          "value_mapping)", i, kind)
    if kind == "similarity":
        from .descriptors import FP_BITS, FP_RADIUS, mol_from_smiles

        if "smiles" not in raw:
            raise where.error("needs smiles = [\"reference SMILES\", ...]", i, kind)
        c["smiles"] = _string_list(where, i, kind, "smiles", raw["smiles"])
        bad = [s for s in c["smiles"] if mol_from_smiles(s) is None]
        if bad or not c["smiles"]:
            raise where.error(f"reference SMILES {bad[0] if bad else '(none)'!r} is not a molecule; fix or drop it",
                              i, kind)
        c["mode"] = raw.get("mode", "max")
        if c["mode"] not in ("max", "mean"):
            raise where.error(f"mode must be \"max\" or \"mean\" (over the references), got {c['mode']!r}", i, kind)
        c["radius"] = _number(where, i, kind, "radius", raw.get("radius", FP_RADIUS), lo=0, integer=True)
        c["bits"] = _number(where, i, kind, "bits", raw.get("bits", FP_BITS), lo=64, integer=True)
        if c["radius"] > 10 or c["bits"] > 1 << 20:
            raise where.error("radius must be <= 10 and bits <= 1048576", i, kind)
    elif kind in ("substructure", "alerts"):
        smarts = _string_list(where, i, kind, "smarts", raw["smarts"]) if "smarts" in raw else []
        if "file" in raw:
            f = raw["file"]
            if not isinstance(f, str) or not f:
                raise where.error(f"file must be the path of a SMARTS file, got {f!r}", i, kind)
            path = Path(f) if Path(f).is_absolute() else base_dir / f
            try:
                smarts += read_smarts_file(path)
            except (OSError, UnicodeDecodeError) as e:
                raise where.error(f"cannot read SMARTS file {path} ({getattr(e, 'strerror', None) or e}); give an "
                                  "existing text file, one SMARTS a line (a path relative to the scoring file)",
                                  i, kind) from None
        if not smarts:
            raise where.error("needs smarts = [\"SMARTS\", ...] or file = \"alerts.txt\" (one SMARTS a line)",
                              i, kind)
        from rdkit import Chem

        from .rdlog import quiet_rdkit

        with quiet_rdkit():
            bad = [s for s in smarts if Chem.MolFromSmarts(s) is None]
        if bad:
            raise where.error(f"SMARTS {bad[0]!r} does not parse; fix or remove it", i, kind)
        forbid = raw.get("forbid", kind == "alerts")
        if not isinstance(forbid, bool):
            raise where.error(f"forbid must be true or false, got {forbid!r}", i, kind)
        c["smarts"], c["forbid"] = smarts, forbid
    elif kind == "oracle":
        spec = raw.get("oracle")
        mod, sep, attr = (spec or "").partition(":") if isinstance(spec, str) else ("", "", "")
        if not (mod and sep and attr):
            raise where.error(f"needs oracle = \"package.module:function\" (a function of a list of SMILES "
                              f"returning one number each), got {spec!r}", i, kind)
        c["oracle"] = spec
    elif kind == "vina":
        c.update(_vina_keys(where, i, raw, base_dir))
    return c


def _vina_keys(where: _Where, i: int, raw: dict, base_dir: Path) -> dict:
    """A vina component's docking keys, checked as the vina task checks its options (receptor paths made
    absolute, from the scoring file's folder; center and size as lists of three numbers)."""
    from .docking import dock_settings

    out: dict = {}
    for key in ("target", "receptor"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise where.error(f"{key} must be a string, got {raw[key]!r}", i, "vina")
            out[key] = raw[key].strip()
    if "receptor" in out:
        path = Path(out["receptor"]).expanduser()
        out["receptor"] = str(path if path.is_absolute() else (base_dir / path).resolve())
    if "/" in out.get("target", ""):  # a folder of molgfn receptor prepare: from the scoring file's folder too
        path = Path(out["target"]).expanduser()
        out["target"] = str(path if path.is_absolute() else (base_dir / path).resolve())
    for key in ("center", "size"):
        if key in raw:
            v = raw[key]
            out[key] = [float(x) for x in v] if isinstance(v, list) and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in v) else v
    out["exhaustiveness"] = raw.get("exhaustiveness", 8)
    out["seed"] = raw.get("seed", 0)
    usage = ('target = "NAME" (a dockstring target, e.g. "DRD2"), or receptor = "FILE.pdbqt" with center = [X, Y, Z] '
             "and size = [SX, SY, SZ]")
    try:
        d = dock_settings(out.get("receptor"), out.get("center"), out.get("size"), out["exhaustiveness"],
                          out["seed"], out.get("target"), usage=usage)
    except ValueError as e:
        raise where.error(str(e).replace("target=", "target = ").replace("receptor=", "receptor = "), i,
                          "vina") from None
    if "target" in out and d.receptor.endswith("_target.pdbqt") and "/" not in out["target"]:
        out["target"] = Path(d.receptor).name[: -len("_target.pdbqt")]  # dockstring's spelling: drd2 -> DRD2
    if "center" in out:
        out["center"] = list(d.center)
    if "size" in out:
        out["size"] = list(d.size)
    return out


def dock_settings_of(c: dict):
    """The checked ``DockSettings`` of a normalised vina component."""
    from .docking import dock_settings

    return dock_settings(c.get("receptor"), c.get("center"), c.get("size"), c["exhaustiveness"], c["seed"],
                         c.get("target"))


def _validate(data, source: str, base_dir: Path) -> dict:
    where = _Where(source)
    if not isinstance(data, dict):
        raise where.error(f"must be a table with aggregation and [[component]] entries, got {type(data).__name__}")
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise where.error(f"has no key {unknown[0]!r}{_close(unknown[0], [*TOP_KEYS, 'components'])}; its keys "
                          "are aggregation and [[component]] tables")
    agg = data.get("aggregation", "geometric")
    if agg not in SCORING_AGGREGATIONS:
        raise where.error(f"aggregation must be \"geometric\" or \"sum\" (or \"preference\": the components as the "
                          f"objectives of a preference-conditioned run), got {agg!r}")
    comps = data.get("component")
    if not isinstance(comps, list) or not comps:
        raise where.error("has no [[component]] tables; add at least one (kind = \"qed\" ...)")
    out = [_component(where, i, c, base_dir) for i, c in enumerate(comps, start=1)]
    seen: dict[str, int] = {}
    for i, c in enumerate(out, start=1):
        if c["name"] in seen:
            if "name" in comps[i - 1] and comps[i - 1]["name"] == c["name"]:
                raise where.error(f"name {c['name']!r} is already component {seen[c['name']]}'s; give it another "
                                  "name", i, c["kind"])
            n = 2
            while f"{c['name']}_{n}" in seen or any(d.get("name") == f"{c['name']}_{n}" for d in comps):
                n += 1
            c["name"] = f"{c['name']}_{n}"
        seen[c["name"]] = i
    if sum(c["weight"] for c in out) <= 0:
        raise where.error("every component has weight 0; give at least one a weight > 0")
    if agg == PREFERENCE:
        objectives = [c for c in out if not is_constraint(c)]
        if len(objectives) < 2:
            raise where.error("aggregation = \"preference\" makes the components the objectives of a preference-"
                              f"conditioned run, which needs at least two; it has {len(objectives)} (forbidden "
                              "substructures are constraints, not objectives): add a component, or use \"sum\"")
        if sum(c["weight"] for c in objectives) <= 0:
            raise where.error("every objective has weight 0 (the weights are the fixed weighting of raw_score); "
                              "give at least one a weight > 0")
    return {"aggregation": agg, "component": out}


def is_constraint(c: dict) -> bool:
    """A forbidden substructure: a hard constraint under the geometric mean and preference conditioning."""
    return c["kind"] in ("substructure", "alerts") and c["forbid"]


class Scoring:
    """A checked scoring structure: ``spec`` (the normalised dict), component names, weights and
    transforms; ``scores(Y)`` the transformed (n, k) scores and ``__call__(Y)`` the aggregate of a
    (n, k) array of raw component values (the oracle's vectors, ``ScoringFunction``)."""

    def __init__(self, spec: dict, source: str = "scoring") -> None:
        self.spec, self.source = spec, source
        self.components = spec["component"]
        self.names = [c["name"] for c in self.components]
        self.weights = np.array([c["weight"] for c in self.components], dtype=np.float64)
        self.aggregation = spec["aggregation"]
        # preference: the components that are objectives (not forbidden substructures), by index
        self.objectives = [i for i, c in enumerate(self.components) if not is_constraint(c)] \
            if self.aggregation == PREFERENCE else []

    @property
    def raw_hash(self) -> str:
        """What the raw values depend on (kinds and their keys, not weights, transforms or the
        aggregation, which are applied to stored raw values): the score store's version."""
        raw = [{k: v for k, v in c.items() if k not in ("name", "weight", "transform")} for c in self.components]
        for r in raw:
            if r["kind"] == "vina":  # the receptor's content and the box, as the vina task's store version
                r["docking"] = dock_settings_of(r).version
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def docks(self) -> bool:
        """Whether a component docks (kind vina): slow, and it gives poses."""
        return any(c["kind"] == "vina" for c in self.components)

    @property
    def oracle_specs(self) -> list[str]:
        return [c["oracle"] for c in self.components if c["kind"] == "oracle"]

    def scores(self, Y) -> np.ndarray:
        Y = np.asarray(Y, dtype=np.float64).reshape(-1, len(self.components))
        cols = []
        for i, c in enumerate(self.components):
            if c["kind"] in ("substructure", "alerts"):  # raw: how many SMARTS match
                hit = Y[:, i] > 0
                cols.append(np.where(hit, 0.0, 1.0) if c["forbid"] else hit.astype(np.float64))
            else:
                cols.append(tf.apply(c.get("transform", {"type": "identity"}), Y[:, i]))
        return np.stack(cols, axis=1) if cols else Y

    def transformed(self, Y) -> np.ndarray:
        return self.scores(Y)

    def __call__(self, Y) -> np.ndarray:
        S = self.scores(Y)
        if self.aggregation != PREFERENCE:
            return tf.aggregate(S, self.weights, self.aggregation)
        # the fixed weighting: the weighted sum of the objectives, 0 where a constraint is violated
        cons = [i for i, c in enumerate(self.components) if is_constraint(c) and c["weight"] > 0]
        ok = np.all(S[:, cons] > 0, axis=1) if cons else np.ones(len(S), dtype=bool)
        return np.where(ok, tf.aggregate(S[:, self.objectives], self.weights[self.objectives], "sum"), 0.0)

    def objective_names(self) -> list[str]:
        """Under preference: the objectives' columns, ``NAME_score`` (their transformed scores)."""
        return [f"{self.names[i]}_score" for i in self.objectives]

    def columns(self, Y) -> dict[str, list]:
        """``NAME_raw`` and ``NAME_score`` of every component (NaN rows: unscored molecules)."""
        Y = np.asarray(Y, dtype=np.float64).reshape(-1, len(self.components))
        S = self.scores(np.nan_to_num(Y))
        S[np.isnan(Y).any(axis=1)] = np.nan
        out: dict[str, list] = {}
        for i, n in enumerate(self.names):
            out[f"{n}_raw"] = Y[:, i].tolist()
            out[f"{n}_score"] = S[:, i].tolist()
        return out

    def function(self, load_oracle: Callable[[str], Callable] | None) -> ScoringFunction | None:
        """The raw-value function; None when the scoring names oracles and ``load_oracle`` is None
        (code is imported only through the caller's loader, never because a file names it)."""
        if self.oracle_specs and load_oracle is None:
            return None
        return ScoringFunction(self.spec, {s: load_oracle(s) for s in self.oracle_specs} if self.oracle_specs else {})


def load_scoring(source: str | Path | dict, base_dir: str | Path | None = None) -> Scoring:
    """A ``Scoring`` from a TOML file path or a dict (relative alert files: from the file's folder,
    else ``base_dir`` or the working directory). Errors are ``ScoringError`` (one line)."""
    if isinstance(source, dict):
        return Scoring(_validate(source, "scoring", Path(base_dir or ".")), "scoring")
    path = Path(source)
    return Scoring(_validate(_read_toml(path), f"scoring file {path}", path.resolve().parent), str(path))


# ---- raw values ----------------------------------------------------------------------------
def _descriptor_fns() -> dict[str, Callable]:
    """Each descriptor kind as molgfn.chem.descriptors.describe computes its column."""
    from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

    from .descriptors import lipinski_violations, sa_score, veber_pass

    def viol(m):
        return lipinski_violations(Descriptors.MolWt(m), Crippen.MolLogP(m), rdMolDescriptors.CalcNumLipinskiHBD(m),
                                   rdMolDescriptors.CalcNumLipinskiHBA(m))

    return {"qed": QED.qed, "sa_score": sa_score, "clogp": Crippen.MolLogP, "tpsa": rdMolDescriptors.CalcTPSA,
            "mol_weight": Descriptors.MolWt, "hbd": rdMolDescriptors.CalcNumLipinskiHBD,
            "hba": rdMolDescriptors.CalcNumLipinskiHBA, "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds,
            "lipinski_violations": viol, "lipinski_pass": lambda m: float(viol(m) <= 1),
            "veber_pass": lambda m: float(veber_pass(rdMolDescriptors.CalcNumRotatableBonds(m),
                                                     rdMolDescriptors.CalcTPSA(m)))}


class ScoringFunction:
    """SMILES -> one vector of raw component values each (the oracle of a scoring task; picklable:
    fingerprints and patterns are rebuilt in each worker). A SMILES that is not a molecule, or an
    ``Invalid`` from a user oracle, makes the molecule invalid (the floor reward)."""

    def __init__(self, spec: dict, oracles: dict[str, Callable]) -> None:
        self.spec, self.oracles = spec, oracles
        self._ready: dict | None = None

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "oracles": self.oracles, "_ready": None}

    @property
    def fork_safe(self) -> bool:
        """Vina runs its own threads: with a vina component, process workers are spawned, not forked."""
        return not any(c["kind"] == "vina" for c in self.spec["component"])

    def _prepare(self) -> dict:
        if self._ready is None:
            from rdkit import Chem

            from .descriptors import fp_generator, mol_from_smiles

            ready: dict = {"desc": _descriptor_fns()}
            for i, c in enumerate(self.spec["component"]):
                if c["kind"] == "similarity":
                    gen = fp_generator(c["bits"], c["radius"])
                    ready[i] = (gen, [gen.GetFingerprint(mol_from_smiles(s)) for s in c["smiles"]])
                elif c["kind"] in ("substructure", "alerts"):
                    ready[i] = [Chem.MolFromSmarts(s) for s in c["smarts"]]
                elif c["kind"] == "vina":
                    ready[i] = dock_settings_of(c).oracle()  # its grid maps are computed at the first docking
            self._ready = ready
        return self._ready

    def __call__(self, smiles: list[str]) -> list:
        from rdkit import DataStructs

        from ..oracle.contract import Invalid, Scored
        from .descriptors import mol_from_smiles

        ready = self._prepare()
        smiles = list(smiles)
        mols = [mol_from_smiles(s) for s in smiles]
        ok = [i for i, m in enumerate(mols) if m is not None]
        cols = []
        poses: dict[int, str] = {}  # molecule index -> the best pose of the first vina component
        for ci, c in enumerate(self.spec["component"]):
            col = [math.nan] * len(smiles)
            kind = c["kind"]
            if kind in ready["desc"]:
                for i in ok:
                    col[i] = float(ready["desc"][kind](mols[i]))
            elif kind == "similarity":
                gen, refs = ready[ci]
                for i in ok:
                    sims = DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(mols[i]), refs)
                    col[i] = max(sims) if c["mode"] == "max" else float(np.mean(sims))
            elif kind in ("substructure", "alerts"):
                for i in ok:
                    col[i] = float(sum(mols[i].HasSubstructMatch(p) for p in ready[ci]))
            elif kind == "oracle":
                vals = list(self.oracles[c["oracle"]]([smiles[i] for i in ok]))
                if len(vals) != len(ok):
                    raise ValueError(f"oracle {c['oracle']} returned {len(vals)} values for {len(ok)} SMILES")
                for i, v in zip(ok, vals, strict=True):
                    col[i] = v if isinstance(v, Invalid) else float(v)
            elif kind == "vina":
                for i, v in zip(ok, ready[ci]([smiles[i] for i in ok]), strict=True):
                    col[i] = v if isinstance(v, Invalid) else float(v.value)
                    if isinstance(v, Scored) and v.extra is not None:
                        poses.setdefault(i, v.extra)
            cols.append(col)
        out = []
        for i in range(len(smiles)):
            if mols[i] is None:
                out.append(Invalid(f"{smiles[i]!r} is not a molecule"))
                continue
            bad = next((v for col in cols for v in [col[i]] if isinstance(v, Invalid)), None)
            vec = tuple(col[i] for col in cols)
            out.append(bad if bad is not None else Scored(vec, poses[i]) if i in poses else vec)
        return out
