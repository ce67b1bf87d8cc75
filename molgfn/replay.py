"""Replay buffer of unique terminal objects with LS-GFN's prioritised sampling.

Half of each replay batch comes from the top ``top_frac`` of log-rewards seen, half from
the rest (Kim et al., ICLR 2024). Trajectories of replayed objects are re-sampled with
P_B by the trainer, so only terminal objects are stored.
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    def __init__(self, state_shape: tuple[int, ...], device: torch.device | str = "cpu",
                 top_frac: float = 0.1, capacity: int = 4096) -> None:
        self.top_frac = top_frac
        self.objects = torch.zeros((capacity, *state_shape), dtype=torch.long, device=device)
        self.log_reward = torch.zeros(capacity, dtype=torch.float64, device=device)
        self.size = 0

    def add(self, objects: torch.Tensor, log_reward: torch.Tensor) -> None:
        n = objects.shape[0]
        if self.size + n > self.objects.shape[0]:
            cap = max(2 * self.objects.shape[0], self.size + n)
            self.objects = torch.cat([self.objects, torch.zeros_like(self.objects[: cap - self.objects.shape[0]])])
            self.log_reward = torch.cat([self.log_reward, self.log_reward.new_zeros(cap - self.log_reward.shape[0])])
        self.objects[self.size : self.size + n] = objects
        self.log_reward[self.size : self.size + n] = log_reward.to(self.log_reward)
        self.size += n

    def sample(self, n: int, gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        lr = self.log_reward[: self.size]
        k_top = max(1, int(round(self.top_frac * self.size)))
        order = torch.argsort(lr, descending=True)
        top, rest = order[:k_top], order[k_top:]
        n_top = n // 2 if rest.numel() > 0 else n
        dev = lr.device
        pick_top = top[torch.randint(top.numel(), (n_top,), generator=gen, device=dev)]
        parts = [pick_top]
        if n - n_top > 0:
            parts.append(rest[torch.randint(rest.numel(), (n - n_top,), generator=gen, device=dev)])
        idx = torch.cat(parts)
        return self.objects[idx], self.log_reward[idx]

    def state_dict(self) -> dict:
        return {"objects": self.objects[: self.size].cpu(), "log_reward": self.log_reward[: self.size].cpu()}

    def load_state_dict(self, sd: dict) -> None:
        self.size = 0
        self.add(sd["objects"].to(self.objects.device), sd["log_reward"])
