"""Fixed-length sequence construction by prepending or appending tokens.

A state is a ``(B, L)`` long tensor of tokens, left-aligned, padded with ``pad = A``
(the alphabet size); its length is the number of non-pad entries. Everything here is a
pure function of batched tensors: no Python object per state, no loop over the batch.

Forward actions (``n_fwd = 2A``): ``a`` in [0, A) prepends token a, ``A + a`` appends a.
In the append-only variant ``n_fwd = A`` and action a appends a.
Backward actions (``n_bwd = 2``): 0 removes the first token, 1 removes the last.
The stop action is allowed only at, and forced at, length L; it therefore has
probability one and is left implicit: every trajectory has exactly L transitions.

Distinct actions can lead to the same child (prepending or appending ``a`` to ``a^n``);
the state graph is then a multigraph whose forward edges are in one-to-one
correspondence with backward edges (prepend <-> remove first, append <-> remove last),
which is all trajectory-level objectives need. Exact marginals (``molgfn.exact``) sum
over parallel edges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class SequenceEnv:
    alphabet: str
    length: int
    append_only: bool = False
    _lookup: dict = field(default_factory=dict, compare=False, repr=False)
    _tables: dict = field(default_factory=dict, compare=False, repr=False)  # small constant tensors per device

    def __post_init__(self) -> None:
        if len(set(self.alphabet)) != len(self.alphabet) or not self.alphabet:
            raise ValueError(f"alphabet must be non-empty distinct characters, got {self.alphabet!r}")
        if self.length < 1:
            raise ValueError("length must be >= 1")
        self._lookup.update({c: i for i, c in enumerate(self.alphabet)})

    # -- sizes -------------------------------------------------------------------------
    @property
    def A(self) -> int:
        return len(self.alphabet)

    @property
    def pad(self) -> int:
        return self.A

    @property
    def n_fwd(self) -> int:
        return self.A if self.append_only else 2 * self.A

    @property
    def n_bwd(self) -> int:
        return 1 if self.append_only else 2

    @property
    def traj_len(self) -> int:
        return self.length

    @property
    def state_shape(self) -> tuple[int, ...]:
        return (self.length,)

    @property
    def num_objects(self) -> int:
        return self.A**self.length

    @property
    def state_dim(self) -> int:
        return self.length * (self.A + 1)

    # -- dynamics ----------------------------------------------------------------------
    def initial(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.full((n, self.length), self.pad, dtype=torch.long, device=device)

    def lengths(self, tokens: torch.Tensor) -> torch.Tensor:
        return (tokens != self.pad).sum(-1)

    def step(self, tokens: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Apply forward actions; states at full length are returned unchanged."""
        A = self.A
        n = self.lengths(tokens)
        if self.append_only:
            is_append, tok = torch.ones_like(actions, dtype=torch.bool), actions
        else:
            is_append, tok = actions >= A, actions % A
        # prepend: shift right by one (the dropped last entry is pad when n < L)
        prepended = torch.cat([tok[:, None], tokens[:, :-1]], dim=1)
        pos = n.clamp(max=self.length - 1)[:, None]
        appended = tokens.scatter(1, pos, tok[:, None])
        out = torch.where(is_append[:, None], appended, prepended)
        return torch.where((n < self.length)[:, None], out, tokens)

    # Every rollout from s_0 advances in lockstep: after t steps every state has length t and
    # every forward action is valid (and every backward action from a non-empty state), so the
    # sampler and the scorer may skip masks and length counts (``sampling``, ``trajectories``).
    lockstep = True

    def lockstep_step(self, n: int, device: torch.device | str) -> Callable[[torch.Tensor, torch.Tensor, int],
                                                                             torch.Tensor]:
        """``step`` for ``n`` rows on ``device`` that all have length ``t`` < L (no length count, no validity
        select), its tables looked up once: a rollout's per-step call ``step(tokens, actions, t)``."""
        if self.append_only:
            def step(tokens: torch.Tensor, actions: torch.Tensor, t: int) -> torch.Tensor:
                out = tokens.clone()
                out[:, t] = actions
                return out
            return step
        # one gather from [tokens | the token of every action]: row a of the step-t table names, for
        # each position of the child, the column it copies (prepend: a's token then tokens[:-1];
        # append: tokens with a's token at t) - 3 small ops instead of 9
        tok, src = self._table("step", device)
        tok_rows, src_at = tok.expand(n, -1), src.unbind(0)

        def step(tokens: torch.Tensor, actions: torch.Tensor, t: int) -> torch.Tensor:
            return torch.cat([tokens, tok_rows], 1).gather(1, src_at[t][actions])

        return step

    def lockstep_back(self, n: int, device: torch.device | str) -> Callable[[torch.Tensor, torch.Tensor, int],
                                                                             torch.Tensor]:
        """``backward_step`` for ``n`` rows on ``device`` that all have length ``t`` >= 1, its table looked
        up once: one gather from [tokens | pad] (remove first: shift left; remove last: pad at t - 1)."""
        src = self._table("back", device)
        pad_col = torch.full((n, 1), self.pad, dtype=torch.long, device=device)

        def back(tokens: torch.Tensor, bactions: torch.Tensor, t: int) -> torch.Tensor:
            return torch.cat([tokens, pad_col], 1).gather(1, src[t][bactions])

        return back

    def _table(self, name: str, device: torch.device | str):
        key = (name, device)  # torch.device and str keys both hash cheaply; str(device) per call did not
        if key not in self._tables:
            A, L = self.A, self.length
            if name == "step":  # (1, n_fwd) token of each action; (L, n_fwd, L) source columns per step
                a = torch.arange(2 * A)
                src = torch.empty((L, 2 * A, L), dtype=torch.long)
                pos = torch.arange(L)
                for t in range(L):  # column L + a holds the token of action a
                    src[t, :A] = torch.cat([L + a[:A, None], pos[:-1].expand(A, -1)], 1)
                    src[t, A:] = torch.where(pos == t, L + a[A:, None], pos)
                tok = (a % A)[None]
                val = (tok.to(device), src.to(device))
            elif name == "back":  # (L + 1, n_bwd, L) source columns per length t; column L is the pad
                pos = torch.arange(L)
                src = pos.repeat(L + 1, self.n_bwd, 1)
                for t in range(1, L + 1):
                    src[t, -1, t - 1] = L  # remove last (the only backward action when append-only)
                    if not self.append_only:
                        src[t, 0] = torch.cat([pos[1:], torch.tensor([L])])  # remove first
                val = src.to(device)
            elif name == "eye":  # one-hot rows of the tokens and the pad
                val = torch.eye(A + 1, device=device)
            else:  # "place": base-A place values, first token most significant
                val = A ** torch.arange(L - 1, -1, -1, device=device)
            self._tables[key] = val
        return self._tables[key]

    def backward_step(self, tokens: torch.Tensor, bactions: torch.Tensor) -> torch.Tensor:
        """Apply backward actions (0 remove first, 1 remove last)."""
        n = self.lengths(tokens)
        pad_col = torch.full_like(tokens[:, :1], self.pad)
        rm_first = torch.cat([tokens[:, 1:], pad_col], dim=1)
        rm_last = tokens.scatter(1, (n - 1).clamp(min=0)[:, None], pad_col)
        out = torch.where((bactions == 0)[:, None] & (not self.append_only), rm_first, rm_last)
        return torch.where((n > 0)[:, None], out, tokens)

    def forward_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        ok = self.lengths(tokens) < self.length
        return ok[:, None].expand(-1, self.n_fwd)

    def backward_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        ok = self.lengths(tokens) > 0
        return ok[:, None].expand(-1, self.n_bwd)

    def backward_of(self, fwd_actions: torch.Tensor) -> torch.Tensor:
        """The backward action that undoes each forward action."""
        if self.append_only:
            return torch.zeros_like(fwd_actions)
        return (fwd_actions >= self.A).long()

    def forward_of(self, tokens_after: torch.Tensor, bactions: torch.Tensor) -> torch.Tensor:
        """The forward action undone by each backward action applied to ``tokens_after``."""
        n = self.lengths(tokens_after)
        first = tokens_after[:, 0]
        last = tokens_after.gather(1, (n - 1).clamp(min=0)[:, None])[:, 0]
        if self.append_only:
            return last
        return torch.where(bactions == 0, first, self.A + last)

    # -- encodings ---------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """One-hot over (position, token-or-pad), flattened: the papers' MLP input."""
        # a row lookup in the identity: the same 0/1 floats as one_hot(...).float() in one op, without
        # one_hot's range check (a min/max pass and a host sync on every call)
        return F.embedding(tokens, self._table("eye", tokens.device)).flatten(-2)

    def to_strings(self, tokens: torch.Tensor) -> list[str]:
        chars = self.alphabet + "?"
        # full length (no pad; tokens are 0..pad, and a max is cheaper than a boolean scan): one numpy view
        if tokens.numel() and int(tokens.max()) < self.pad:
            key = ("letters", "numpy")
            if key not in self._tables:
                import numpy as np

                self._tables[key] = np.array(list(self.alphabet), dtype="<U1")
            arr = self._tables[key][tokens.cpu().numpy()]
            return arr.view(f"<U{self.length}")[:, 0].tolist()  # fancy indexing gives a C-contiguous array
        return ["".join(chars[t] for t in row if t != self.pad) for row in tokens.tolist()]

    def from_strings(self, seqs: list[str], device: torch.device | str = "cpu") -> torch.Tensor:
        bad = [(i, s) for i, s in enumerate(seqs) if len(s) != self.length or any(c not in self._lookup for c in s)]
        if bad:
            shown = "; ".join(f"row {i}: {s!r}" for i, s in bad[:5])
            raise ValueError(
                f"{len(bad)} sequence(s) are not length-{self.length} strings over {self.alphabet!r}: {shown}"
            )
        idx = [[self._lookup[c] for c in s] for s in seqs]
        return torch.tensor(idx, dtype=torch.long, device=device).reshape(len(seqs), self.length)

    def index(self, tokens: torch.Tensor) -> torch.Tensor:
        """Base-A integer of full-length sequences (first token most significant)."""
        return (tokens * self._table("place", tokens.device)).sum(-1)

    def all_objects(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Every terminal object, ordered by ``index``; only for small spaces."""
        if self.num_objects > 50_000_000:
            raise ValueError(f"{self.num_objects} objects are too many to enumerate")
        i = torch.arange(self.num_objects, device=device)
        w = self.A ** torch.arange(self.length - 1, -1, -1, device=device)
        return (i[:, None] // w) % self.A
