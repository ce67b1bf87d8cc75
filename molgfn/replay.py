"""Replay buffer of unique terminal objects with LS-GFN's prioritised sampling.

Half of each replay batch comes from the top ``top_frac`` of log-rewards seen, half from
the rest (Kim et al., ICLR 2024). Trajectories of replayed objects are re-sampled with
P_B by the trainer, so only terminal objects are stored.

The split is kept up to date incrementally, so a round costs O(log n) in the number n of
objects stored, not an argsort of everything: the top set is a min-heap (its weakest entry
is the one to demote), the rest a max-heap (its best entry is the one to promote), and a
heap's list is itself the uniform sampling frame. Objects are inserted one at a time with
``k = max(1, round(top_frac * size))`` after each insertion, so the state (heap layouts
included) depends only on the insertion order, never on how insertions were batched: a
buffer rebuilt from the same objects in the same order draws exactly the same samples.
The heaps are brought up to date lazily, when the buffer is next sampled or inspected: a run
without replay (``--replay-size 0``) pays only the row copy per round, and the heaps end up
exactly as if every object had been inserted on arrival (same objects, same order).

A preference-conditioned run (``n_vectors = k``) also stores each object's (transformed) objective
vector, so that a replayed object's reward R(x | w) is recomputed for the new preference w it is
replayed with; its priority is then the log-reward of the task's fixed weighted sum.
"""

from __future__ import annotations

import heapq

import torch


class ReplayBuffer:
    def __init__(self, state_shape: tuple[int, ...], device: torch.device | str = "cpu",
                 top_frac: float = 0.1, capacity: int = 4096, n_vectors: int = 0) -> None:
        self.top_frac = top_frac
        self.objects = torch.zeros((capacity, *state_shape), dtype=torch.long, device=device)
        self.log_reward = torch.zeros(capacity, dtype=torch.float64, device=device)
        self.vectors = torch.zeros((capacity, n_vectors), dtype=torch.float64, device=device) if n_vectors else None
        self.size = 0
        self._top: list[tuple[float, int]] = []  # min-heap of (log R, index): the best k
        self._rest: list[tuple[float, int]] = []  # max-heap of (-log R, -index): everything else
        self._heaped = 0  # rows [0, _heaped) are in the heaps; the rest wait for _sync_heaps

    def _grow(self, need: int) -> None:
        cap = self.objects.shape[0]
        if need <= cap:
            return
        new_cap = max(2 * cap, need)
        objects = self.objects.new_zeros((new_cap, *self.objects.shape[1:]))
        objects[:cap] = self.objects
        log_reward = self.log_reward.new_zeros(new_cap)
        log_reward[:cap] = self.log_reward
        self.objects, self.log_reward = objects, log_reward
        if self.vectors is not None:
            vectors = self.vectors.new_zeros((new_cap, self.vectors.shape[1]))
            vectors[:cap] = self.vectors
            self.vectors = vectors

    def _k(self, size: int) -> int:
        return max(1, int(round(self.top_frac * size)))

    def _insert(self, v: float, i: int) -> None:
        top, rest = self._top, self._rest
        # the new entry joins the top set if it beats the top set's weakest entry
        if top and (v, i) > top[0]:
            heapq.heappush(top, (v, i))
        else:
            heapq.heappush(rest, (-v, -i))
        k = self._k(i + 1)
        while len(top) > k:
            w, j = heapq.heappop(top)
            heapq.heappush(rest, (-w, -j))
        while len(top) < k and rest:
            w, j = heapq.heappop(rest)
            heapq.heappush(top, (-w, -j))

    def add(self, objects: torch.Tensor, log_reward: torch.Tensor, vectors: torch.Tensor | None = None) -> None:
        n = objects.shape[0]
        self._grow(self.size + n)
        self.objects[self.size : self.size + n] = objects
        if self.vectors is not None:
            if vectors is None or vectors.shape != (n, self.vectors.shape[1]):
                raise ValueError(f"this buffer stores objective vectors: need ({n}, {self.vectors.shape[1]})")
            self.vectors[self.size : self.size + n] = vectors.to(self.vectors)
        self.log_reward[self.size : self.size + n] = log_reward.to(self.log_reward)
        self.size += n

    def _sync_heaps(self) -> None:
        # insert the rows added since the last sync, one at a time in row order, as add() once did
        if self._heaped < self.size:
            for j, v in enumerate(self.log_reward[self._heaped : self.size].tolist()):
                self._insert(v, self._heaped + j)
            self._heaped = self.size

    def sample(self, n: int, gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        it = self.sample_indices(n, gen)
        return self.objects[it], self.log_reward[it]

    def sample_indices(self, n: int, gen: torch.Generator | None = None) -> torch.Tensor:
        """Buffer rows of a prioritised sample (``objects``, ``log_reward``, ``vectors`` index with them)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        self._sync_heaps()
        dev = self.log_reward.device
        n_top = n // 2 if self._rest else n
        pos = torch.randint(len(self._top), (n_top,), generator=gen, device=dev).tolist()
        idx = [self._top[p][1] for p in pos]
        if n - n_top > 0:
            pos = torch.randint(len(self._rest), (n - n_top,), generator=gen, device=dev).tolist()
            idx += [-self._rest[p][1] for p in pos]
        return torch.tensor(idx, dtype=torch.long, device=dev)

    def top_indices(self) -> list[int]:
        """Indices of the objects in the top set (for tests and inspection)."""
        self._sync_heaps()
        return [i for _, i in self._top]

    def state_dict(self) -> dict:
        sd = {"objects": self.objects[: self.size].cpu(), "log_reward": self.log_reward[: self.size].cpu()}
        if self.vectors is not None:
            sd["vectors"] = self.vectors[: self.size].cpu()
        return sd

    def load_state_dict(self, sd: dict) -> None:
        self.size = 0
        self._top, self._rest, self._heaped = [], [], 0
        self.add(sd["objects"].to(self.objects.device), sd["log_reward"], sd.get("vectors"))
