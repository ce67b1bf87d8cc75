"""The sEH docking proxy of Bengio et al. (2021), re-implemented on torch-geometric 2.x.

The proxy is a message-passing network over atom graphs, trained to predict
``4 - (min(0, docking score) + 8.6) / 1.1`` for the soluble epoxide hydrolase (sEH)
target. Its weights are a third-party pickle (asset ``seh-frag-proxy``: 22 numpy
arrays saved from torch-geometric 1.6), loaded here with the restricted unpickler.

The network and its featuriser use plain torch (importing torch-geometric costs ~160 MB of
memory and seconds of start-up); parameter names are those of torch-geometric's ``NNConv``
and ``Set2Set``, and ``fast=False`` runs torch-geometric's ``NNConv`` itself as a check.

Architecture (as trained)::

    h = leaky_relu(lin0(x))                                   # arrays 0, 1
    repeat 12 times, weights shared:
        m = leaky_relu(NNConv_mean(h, edge_index, edge_attr))  # arrays 2-7
        h = GRUCell(m, h)                                      # arrays 8-11
    g = Set2Set(h, batch, processing_steps=3)                  # arrays 16-19
    raw = lin_out(g)                                           # arrays 20, 21

with edge network ``Linear(4, 128) -> leaky_relu -> Linear(128, 64*64)``; the per-edge
output is reshaped to ``(in, out)`` and a message is ``x_j @ W_e``. The NNConv root
weight (array 2) was stored as ``(in, out)`` by torch-geometric 1.6 and applied as
``x @ W``; a widely used reimplementation loads it into a ``Linear`` without the
transpose (``x @ W.T``), which ``root_weight_transposed=True`` reproduces. Arrays
12-15 (the fragment-action heads of the original model) are unused.

The sEH task score is ``clip(raw / 8, 1e-4, 100)``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rdkit import Chem
from rdkit.Chem.rdchem import BondType, HybridizationType
from torch import Tensor, nn

from molgfn.errors import InputError

__all__ = [
    "ASSET_NAME",
    "NUM_ATOM_FEATURES",
    "NUM_BOND_FEATURES",
    "EXPECTED_SHAPES",
    "InvalidMoleculeError",
    "featurize",
    "GraphBatch",
    "collate",
    "mol_graph",
    "load_arrays",
    "raw_to_score",
    "SEHProxy",
    "SEHOracle",
]

ASSET_NAME = "seh-frag-proxy"
NUM_ATOM_FEATURES = 71
NUM_BOND_FEATURES = 4
HIDDEN = 64
EDGE_HIDDEN = 128
NUM_CONV_STEPS = 12
SET2SET_STEPS = 3
LEAKY_SLOPE = 0.01
SCORE_DIVISOR = 8.0
SCORE_MIN, SCORE_MAX = 1e-4, 100.0

# Shapes of the 22 pickled arrays, in order (12-15 are present but unused).
EXPECTED_SHAPES: tuple[tuple[int, ...], ...] = (
    (64, 71), (64,), (64, 64), (64,), (128, 4), (128,), (4096, 128), (4096,),
    (192, 64), (192, 64), (192,), (192,), (512, 64), (512,), (105, 512), (105,),
    (256, 128), (256, 64), (256,), (256,), (1, 128), (1,),
)  # fmt: skip
UNUSED_ARRAYS = frozenset({12, 13, 14, 15})

# --- atom / bond featurisation ---------------------------------------------------------
# Column layout of the original featuriser (71 columns).
_TYPE_COLS = {1: 0, 6: 1, 7: 2, 8: 3, 9: 4}  # H C N O F by atomic number; anything else -> 5
_COL_OTHER = 5
# columns 6-8 (atomic-number scalar, acceptor, donor) are always zero in the original
_COL_AROMATIC = 9
_HYB_COLS = {HybridizationType.SP: 10, HybridizationType.SP2: 11, HybridizationType.SP3: 12}
_COL_NUM_HS = 13
_ONEHOT_Z_OFFSET = 13  # atomic number Z (1..56) goes to column 13 + Z
_MAX_ONEHOT_Z = 56
_COL_ATTACHMENT = 70
_BOND_COLS = {BondType.SINGLE: 0, BondType.DOUBLE: 1, BondType.TRIPLE: 2, BondType.AROMATIC: 3,
              BondType.UNSPECIFIED: 0}  # fmt: skip


class InvalidMoleculeError(InputError, ValueError):
    """Some inputs are not valid molecules. A ValueError (for library callers) and an
    InputError (so the CLI prints it as one clear message)."""


@dataclass
class GraphBatch:
    """Atom graphs of one or more molecules, concatenated (the fields of a torch-geometric ``Batch``
    that the proxy reads; a ``Batch`` works in their place)."""

    x: Tensor  # (atoms, 71)
    edge_index: Tensor  # (2, edges), both directions
    edge_attr: Tensor  # (edges, 4)
    batch: Tensor | None = None  # (atoms,) graph of each atom
    num_graphs: int = 1


def collate(graphs: Sequence[GraphBatch]) -> GraphBatch:
    """One batch of single-molecule graphs: node indices offset, ``batch`` set."""
    sizes = [g.x.size(0) for g in graphs]
    offsets = np.cumsum([0] + sizes[:-1])
    edge_index = torch.cat([g.edge_index + int(o) for g, o in zip(graphs, offsets, strict=True)], 1)
    batch = torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(sizes))
    return GraphBatch(torch.cat([g.x for g in graphs]), edge_index, torch.cat([g.edge_attr for g in graphs]),
                      batch, len(graphs))


def featurize(mol: Chem.Mol, attachment_atoms: set[int] | None = None):
    """``mol_graph`` as a torch-geometric ``Data`` (for ``Batch.from_data_list``)."""
    from torch_geometric.data import Data

    g = mol_graph(mol, attachment_atoms)
    return Data(x=g.x, edge_index=g.edge_index, edge_attr=g.edge_attr)


def mol_graph(mol: Chem.Mol, attachment_atoms: set[int] | None = None) -> GraphBatch:
    """Atom graph of ``mol`` in the proxy's 71-column / 4-column input format.

    Hydrogens must be implicit (as from ``Chem.MolFromSmiles``) and the molecule
    sanitised, because hybridisation and H counts are read from RDKit's perception -
    that is what the network was trained on. ``attachment_atoms`` flags column 70
    (the original set it on the atoms holding open attachment points of a partially
    built fragment molecule); plain molecules leave it zero. Atoms with atomic number
    above 56 get no atomic-number one-hot (the original table stopped at 56). Bonds of
    a type other than single/double/triple/aromatic get an all-zero bond feature.
    A molecule with no bonds gets one self-loop on atom 0 with zero bond features,
    as in the original, so every graph has at least one message.
    """
    n = mol.GetNumAtoms()
    if n == 0:
        raise InvalidMoleculeError("cannot featurise a molecule with no atoms")
    # one pass over the atoms and one over the bonds: each walk of RDKit's atom sequence goes through
    # Python per item, so reading the four atom properties in four walks cost 2-3x as much
    props = [(a.GetAtomicNum(), a.GetIsAromatic(), _HYB_COLS.get(a.GetHybridization(), -1), a.GetTotalNumHs())
             for a in mol.GetAtoms()]
    z, aromatic, hyb_col, num_hs = np.array(props, dtype=np.int64).T

    x = np.zeros((n, NUM_ATOM_FEATURES), dtype=np.float32)
    rows = np.arange(n)
    type_col = np.full(n, _COL_OTHER, dtype=np.int64)
    for znum, col in _TYPE_COLS.items():
        type_col[z == znum] = col
    x[rows, type_col] = 1.0
    x[:, _COL_AROMATIC] = aromatic
    has_hyb = hyb_col >= 0
    x[rows[has_hyb], hyb_col[has_hyb]] = 1.0
    x[:, _COL_NUM_HS] = num_hs
    in_table = (z >= 1) & (z <= _MAX_ONEHOT_Z)
    x[rows[in_table], _ONEHOT_Z_OFFSET + z[in_table]] = 1.0
    if attachment_atoms:
        idx = np.fromiter(attachment_atoms, dtype=np.int64)
        if idx.min() < 0 or idx.max() >= n:
            raise ValueError(f"attachment atom index out of range for a molecule with {n} atoms: {idx}")
        x[idx, _COL_ATTACHMENT] = 1.0

    if mol.GetNumBonds() == 0:
        edge_index = np.zeros((2, 1), dtype=np.int64)
        edge_attr = np.zeros((1, NUM_BOND_FEATURES), dtype=np.float32)
    else:
        src, dst, btype = np.array([(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), _BOND_COLS.get(b.GetBondType(), -1))
                                    for b in mol.GetBonds()], dtype=np.int64).T
        edge_index = np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])])
        btype = np.concatenate([btype, btype])
        edge_attr = np.zeros((btype.shape[0], NUM_BOND_FEATURES), dtype=np.float32)
        known = btype >= 0
        edge_attr[np.nonzero(known)[0], btype[known]] = 1.0
    return GraphBatch(torch.from_numpy(x), torch.from_numpy(edge_index), torch.from_numpy(edge_attr))


# --- weights ---------------------------------------------------------------------------
def load_arrays(path: str | Path | None = None, data_dir: str | Path | None = None) -> list[np.ndarray]:
    """The 22 weight arrays, read with the restricted unpickler (never plain pickle: the
    file is third-party) and checked against ``EXPECTED_SHAPES``. Without ``path`` the
    asset is resolved by name (``--data-dir``, ``$MOLGFN_DATA``, user cache) and its
    sha256 verified."""
    from molgfn.assets import resolve
    from molgfn.safe_pickle import safe_load

    if path is None:
        path = resolve(ASSET_NAME, data_dir)
    arrays = safe_load(path)
    _check_arrays(arrays, source=str(path))
    return arrays


def _check_arrays(arrays: object, source: str = "arrays") -> None:
    if not isinstance(arrays, (list, tuple)) or len(arrays) != len(EXPECTED_SHAPES):
        raise ValueError(f"{source}: expected a list of {len(EXPECTED_SHAPES)} arrays")
    for i, (a, shape) in enumerate(zip(arrays, EXPECTED_SHAPES, strict=True)):
        if not isinstance(a, np.ndarray) or a.shape != shape:
            got = getattr(a, "shape", type(a).__name__)
            raise ValueError(f"{source}: array {i} has shape {got}, expected {shape}")


def raw_to_score(raw: np.ndarray | Tensor) -> np.ndarray | Tensor:
    """sEH task score from the raw network output: ``clip(raw / 8, 1e-4, 100)``."""
    if isinstance(raw, Tensor):
        return (raw / SCORE_DIVISOR).clamp(SCORE_MIN, SCORE_MAX)
    return np.clip(np.asarray(raw) / SCORE_DIVISOR, SCORE_MIN, SCORE_MAX)


# --- the network -----------------------------------------------------------------------
def _distinct_rows(edge_attr: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct rows of ``edge_attr`` and each row's index among them. Bond features are
    0/1 vectors, so rows are encoded as integers and deduplicated in 1-D, which is far
    cheaper than ``torch.unique(dim=0)``; other edge features take that general path."""
    width = edge_attr.size(1)
    if width <= 30 and bool(((edge_attr == 0) | (edge_attr == 1)).all()):
        bits = 2 ** torch.arange(width, device=edge_attr.device)
        codes = (edge_attr.long() * bits).sum(1)
        uniq, inverse = torch.unique(codes, return_inverse=True)
        kinds = ((uniq.unsqueeze(1) & bits) != 0).to(edge_attr.dtype)
        return kinds, inverse
    return torch.unique(edge_attr, dim=0, return_inverse=True)


class _NNConvWeights(nn.Module):
    """The parameters of torch-geometric's ``NNConv`` (same names): root ``lin``, edge network ``nn``, ``bias``."""

    def __init__(self, edge_net: nn.Module) -> None:
        super().__init__()
        self.nn = edge_net
        self.lin = nn.Linear(HIDDEN, HIDDEN, bias=False)
        self.bias = nn.Parameter(torch.zeros(HIDDEN))

    def reference(self) -> nn.Module:
        """torch-geometric's ``NNConv`` (mean) holding these weights (imported only here)."""
        from torch_geometric.nn import NNConv

        # its constructor re-initialises the modules it is given: give it a stand-in, then ours
        conv = NNConv(HIDDEN, HIDDEN, nn.Identity(), aggr="mean", root_weight=True, bias=True)
        conv.nn, conv.lin, conv.bias = self.nn, self.lin, self.bias  # x @ lin.weight.T + bias, as its Linear
        return conv


class _Set2Set(nn.Module):
    """Set2Set readout (Vinyals et al., 2016) as torch-geometric computes it: ``steps`` times
    q = LSTM(q*); a = softmax over each graph's atoms of <h, q>; q* = [q, sum a h]."""

    def __init__(self, dim: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.lstm = nn.LSTM(2 * dim, dim)

    def forward(self, h: Tensor, graph: Tensor, num_graphs: int) -> Tensor:
        dim = h.size(1)
        state = (h.new_zeros(1, num_graphs, dim), h.new_zeros(1, num_graphs, dim))
        q_star = h.new_zeros(num_graphs, 2 * dim)
        for _ in range(self.steps):
            q, state = self.lstm(q_star.unsqueeze(0), state)
            q = q.view(num_graphs, dim)
            e = (h * q.index_select(0, graph)).sum(-1)
            top = e.new_full((num_graphs,), float("-inf")).scatter_reduce(0, graph, e, "amax")
            a = (e - top.index_select(0, graph)).exp()
            a = a / e.new_zeros(num_graphs).index_add_(0, graph, a).index_select(0, graph)
            q_star = torch.cat([q, h.new_zeros(num_graphs, dim).index_add_(0, graph, a[:, None] * h)], -1)
        return q_star


class SEHProxy(nn.Module):
    """The sEH proxy network. ``forward`` returns the raw output, shape ``(num_graphs,)``.

    Parameters are named as in torch-geometric's ``NNConv`` (mean aggregation) and
    ``Set2Set``, so they keep their standard meaning; ``forward`` by default
    runs an equivalent fast path for the convolution: edge features are constant over
    the 12 shared-weight steps and take few distinct values (one-hot bond types), so the
    edge network runs once on the distinct rows and each step is one dense matmul
    instead of ``E`` per-edge 64x64 products. ``fast=False`` calls torch-geometric's ``NNConv``.
    """

    def __init__(self, root_weight_transposed: bool = False) -> None:
        super().__init__()
        self.root_weight_transposed = root_weight_transposed
        self.lin0 = nn.Linear(NUM_ATOM_FEATURES, HIDDEN)
        edge_net = nn.Sequential(
            nn.Linear(NUM_BOND_FEATURES, EDGE_HIDDEN),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.Linear(EDGE_HIDDEN, HIDDEN * HIDDEN),
        )
        self.conv = _NNConvWeights(edge_net)
        self.gru = nn.GRUCell(HIDDEN, HIDDEN)
        self.set2set = _Set2Set(HIDDEN, SET2SET_STEPS)
        self.lin_out = nn.Linear(2 * HIDDEN, 1)

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], root_weight_transposed: bool = False) -> SEHProxy:
        """Build the network from the 22 pickled arrays (see the module docstring for
        which array goes where). The root weight, array 2, is stored ``(in, out)``;
        torch-geometric 2.x keeps it in a ``Linear`` (``x @ weight.T``), so the faithful
        reading stores its transpose there and the 'transposed' reading stores it as is."""
        _check_arrays(arrays)
        t = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays]
        model = cls(root_weight_transposed=root_weight_transposed)
        root = t[2] if root_weight_transposed else t[2].T
        params = {
            "lin0.weight": t[0], "lin0.bias": t[1],
            "conv.lin.weight": root, "conv.bias": t[3],
            "conv.nn.0.weight": t[4], "conv.nn.0.bias": t[5],
            "conv.nn.2.weight": t[6], "conv.nn.2.bias": t[7],
            "gru.weight_ih": t[8], "gru.weight_hh": t[9], "gru.bias_ih": t[10], "gru.bias_hh": t[11],
            "set2set.lstm.weight_ih_l0": t[16], "set2set.lstm.weight_hh_l0": t[17],
            "set2set.lstm.bias_ih_l0": t[18], "set2set.lstm.bias_hh_l0": t[19],
            "lin_out.weight": t[20], "lin_out.bias": t[21],
        }  # fmt: skip
        model.load_state_dict({k: v.contiguous() for k, v in params.items()}, strict=True)
        return model.eval()

    @classmethod
    def from_asset(
        cls,
        device: str | torch.device = "cpu",
        root_weight_transposed: bool = False,
        data_dir: str | Path | None = None,
    ) -> SEHProxy:
        """The pretrained proxy from the verified ``seh-frag-proxy`` asset, in eval mode."""
        return cls.from_arrays(load_arrays(data_dir=data_dir), root_weight_transposed).to(device)

    def _conv_fast(self, h: Tensor, src_kind: Tensor, dst: Tensor, w_all: Tensor, inv_deg: Tensor) -> Tensor:
        """NNConv (mean) for edges whose weight matrix is one of a few matrices: one product of h with
        [root | W_0 | ... | W_K-1] gives the root term and every node's message under each kind; each edge
        gathers its (source, kind) row and the rows are summed per target (a buffer of n rows, not n * K)."""
        hw = h @ w_all  # (n, (1 + K) * 64)
        n, d = h.shape
        out = hw[:, :d] + self.conv.bias
        if dst.numel():
            msg = hw.view(-1, d).index_select(0, src_kind)  # row (1 + K) * source + 1 + kind
            out = out + h.new_zeros(n, d).index_add_(0, dst, msg) * inv_deg
        return out

    def forward(self, batch: GraphBatch, fast: bool = True) -> Tensor:
        """Raw proxy output per graph, shape ``(num_graphs,)``."""
        x, edge_index, edge_attr = batch.x, batch.edge_index, batch.edge_attr
        n = x.size(0)
        node_graph = batch.batch if getattr(batch, "batch", None) is not None else x.new_zeros(n, dtype=torch.long)
        num_graphs = int(batch.num_graphs) if hasattr(batch, "num_graphs") else 1

        h = F.leaky_relu(self.lin0(x), LEAKY_SLOPE)
        if fast:
            src, dst = edge_index[0], edge_index[1]
            num_edges = src.numel()
            root = self.conv.lin.weight.T  # x @ lin.weight.T, as its Linear
            if num_edges:
                kinds, inverse = _distinct_rows(edge_attr)
                num_kinds = kinds.size(0)
                w = self.conv.nn(kinds).view(num_kinds, HIDDEN, HIDDEN)  # (kind, in, out)
                w_all = torch.cat([root, w.permute(1, 0, 2).reshape(HIDDEN, num_kinds * HIDDEN)], 1)
                src_kind = src * (num_kinds + 1) + 1 + inverse  # row of (source, kind) in hw.view(-1, 64)
                deg = torch.zeros(n, dtype=h.dtype, device=h.device).index_add_(
                    0, dst, torch.ones(num_edges, dtype=h.dtype, device=h.device)
                )
                inv_deg = (1.0 / deg.clamp(min=1.0)).unsqueeze(1)
            else:
                w_all, src_kind, inv_deg = root, src, h.new_zeros(n, 1)
            for _ in range(NUM_CONV_STEPS):
                m = F.leaky_relu(self._conv_fast(h, src_kind, dst, w_all, inv_deg), LEAKY_SLOPE)
                h = self.gru(m, h)
        else:
            conv = self.conv.reference()
            for _ in range(NUM_CONV_STEPS):
                m = F.leaky_relu(conv(h, edge_index, edge_attr), LEAKY_SLOPE)
                h = self.gru(m, h)
        g = self.set2set(h, node_graph, num_graphs)
        return self.lin_out(g).squeeze(-1)


# --- the oracle ------------------------------------------------------------------------
MolLike = str | Chem.Mol


class SEHOracle:
    """Scores molecules with the sEH proxy: ``oracle(smiles_list) -> np.ndarray`` of task
    scores ``clip(raw / 8, 1e-4, 100)``; ``oracle.raw(...)`` gives the network output.

    Molecules are featurised on the CPU, batched (``batch_size`` graphs per forward) and
    scored under ``torch.inference_mode`` on ``device``. Results are cached (LRU, keyed by
    the SMILES string given, or the canonical SMILES of an RDKit molecule) because a
    GFlowNet revisits the same molecules often; ``cache_size=0`` disables the cache.
    """

    def __init__(
        self,
        model: SEHProxy | None = None,
        device: str | torch.device = "cpu",
        batch_size: int = 256,
        cache_size: int = 100_000,
        root_weight_transposed: bool = False,
        data_dir: str | Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.device = torch.device(device)
        if model is None:
            model = SEHProxy.from_asset(self.device, root_weight_transposed, data_dir)
        self.model = model.to(self.device).eval()
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, float] = OrderedDict()

    def __call__(self, mols: Sequence[MolLike]) -> np.ndarray:
        """Task scores ``clip(raw / 8, 1e-4, 100)``, float64, one per input."""
        return np.asarray(raw_to_score(self.raw(mols)), dtype=np.float64)

    def score(self, mols: Sequence[MolLike]) -> np.ndarray:
        """Alias of calling the oracle."""
        return self(mols)

    def raw(self, mols: Sequence[MolLike]) -> np.ndarray:
        """Raw network outputs (predicted ``4 - (min(0, docking) + 8.6) / 1.1``), float64."""
        if isinstance(mols, (str, Chem.Mol)):
            raise TypeError("pass a list of SMILES / RDKit molecules, not a single one")
        keys, parsed, bad = [], [], []
        for i, item in enumerate(mols):
            if isinstance(item, str) and item in self._cache:  # scored before: valid, no need to parse it again
                mol, key = None, item
            else:
                mol, key = self._parse(item)
                if mol is None:
                    bad.append(i)
            keys.append(key)
            parsed.append(mol)
        if bad:
            shown = ", ".join(f"#{i} {mols[i]!r}" for i in bad[:10])
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            raise InvalidMoleculeError(f"{len(bad)} invalid molecule(s): {shown}{more}")

        out = np.empty(len(keys), dtype=np.float64)
        todo: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key in self._cache:
                self._cache.move_to_end(key)
                out[i] = self._cache[key]
            else:
                todo.setdefault(key, []).append(i)
        if todo:
            uniq = list(todo)
            values = self._forward_mols([parsed[todo[k][0]] for k in uniq])
            for key, value in zip(uniq, values, strict=True):
                out[todo[key]] = value
                self._remember(key, float(value))
        return out

    def clear_cache(self) -> None:
        self._cache.clear()

    def _parse(self, item: MolLike) -> tuple[Chem.Mol | None, str]:
        if isinstance(item, str):
            mol = Chem.MolFromSmiles(item) if item.strip() else None
            if mol is not None and mol.GetNumAtoms() == 0:
                mol = None
            return mol, item
        if isinstance(item, Chem.Mol):
            if item.GetNumAtoms() == 0:
                return None, ""
            if any(a.GetAtomicNum() == 1 for a in item.GetAtoms()):
                item = Chem.RemoveHs(item)  # the proxy was trained on implicit hydrogens
            return item, Chem.MolToSmiles(item)
        return None, ""

    def _remember(self, key: str, value: float) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = value
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _forward_mols(self, mols: Sequence[Chem.Mol]) -> np.ndarray:
        outs = []
        with torch.inference_mode():
            for start in range(0, len(mols), self.batch_size):
                chunk = mols[start : start + self.batch_size]
                batch = collate([mol_graph(m) for m in chunk])
                batch = GraphBatch(*(t.to(self.device) for t in (batch.x, batch.edge_index, batch.edge_attr,
                                                                 batch.batch)), batch.num_graphs)
                outs.append(self.model(batch).double().cpu().numpy())
        return np.concatenate(outs) if outs else np.empty(0)
