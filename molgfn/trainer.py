"""The training loop: sample, evaluate, (local search), replay, gradient steps, checkpoint.

One round spends ``batch_size`` reward calls whatever the method: with local search,
M = batch_size // (I + 1) chains each make I proposals (LS-GFN's accounting).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import runs
from .config import BetaDist, TrainConfig, resolve_device
from .energies import energy_function
from .local_search import local_search_step
from .objectives import get_objective, is_on_policy_only, needs_energy, needs_flow_head
from .policies import MLPPolicy
from .replay import ReplayBuffer
from .sampling import sample_backward, sample_forward
from .trajectories import Trajectories, score


@dataclass
class SeenStats:
    """Every object evaluated during training: times sampled, first round, raw score, log R."""

    count: dict[str, int] = field(default_factory=dict)
    first_round: dict[str, int] = field(default_factory=dict)
    raw: dict[str, float] = field(default_factory=dict)
    log_reward: dict[str, float] = field(default_factory=dict)

    def update(self, objs: list[str], raw: list[float], logr: list[float], rnd: int) -> list[bool]:
        new = []
        for o, r, lr in zip(objs, raw, logr, strict=True):
            c = self.count.get(o)
            if c is None:
                self.count[o] = 1
                self.first_round[o] = rnd
                self.raw[o] = r
                self.log_reward[o] = lr
                new.append(True)
            else:
                self.count[o] = c + 1
                new.append(False)
        return new


def _rng_state(gen: torch.Generator, device: torch.device) -> dict:
    np_state = np.random.get_state()
    return {
        "gen": gen.get_state(), "gen_device": device.type, "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def _set_rng_state(rng: dict, gen: torch.Generator, device: torch.device, fallback_seed: int) -> None:
    # a generator's state only fits a generator of the same device type; a run resumed on
    # another kind of device continues from a fresh, recorded seed instead
    if rng.get("gen_device", "cpu") == device.type:
        gen.set_state(rng["gen"])
    else:
        gen.manual_seed(fallback_seed)
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(rng["cuda"])
    name, keys, *rest = rng["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(rng["python"])


def build_policy(cfg: TrainConfig, env) -> MLPPolicy:
    if hasattr(env, "make_policy"):  # e.g. the fragment env's graph-transformer policy
        return env.make_policy(cfg)
    return MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=cfg.hidden, n_layers=cfg.n_layers,
                     conditioning=cfg.conditioning, flow_head=needs_flow_head(cfg.objective),
                     uniform_pb=cfg.uniform_pb)


class Trainer:
    def __init__(self, cfg: TrainConfig, task, run_dir: Path | None = None) -> None:
        cfg.validate()
        self.cfg, self.task, self.run_dir = cfg, task, run_dir
        self.env = task.env
        self.device = resolve_device(cfg.device)
        self.beta_dist = BetaDist(cfg.beta_dist)
        if cfg.conditioning == "none" and not self.beta_dist.is_fixed:
            from .errors import InputError

            raise InputError("a beta distribution needs a temperature-conditional policy: "
                             "add --conditioning logit (or layer), or use --beta-dist fixed:B")
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.seed)
        self.policy = build_policy(cfg, self.env).to(self.device)
        self.opt = torch.optim.Adam(self.policy.param_groups(cfg.lr, cfg.lr_logz))
        self.objective = get_objective(cfg.objective, **cfg.objective_options)
        self.buffer = ReplayBuffer(tuple(self.env.state_shape), self.device, cfg.replay_top_frac)
        self.seen = SeenStats()
        self.round = 0
        self.reward_calls = 0
        self.modes_found: set[str] = set()
        self.metrics: list[dict] = []
        self._best_raw = float("-inf")
        self.energy_fn: Callable | None = None
        if needs_energy(cfg.objective):  # FL-DB: the task's energy hook (tabular tasks: max-completion)
            self.energy_fn = energy_function(task)
            if self.energy_fn is None:
                from .errors import InputError

                raise InputError(f"--objective {cfg.objective} needs state energies; task {task.name!r} defines none")

    # -- oracle ------------------------------------------------------------------------
    def _evaluate(self, tokens: torch.Tensor) -> torch.Tensor:
        raw, logr = self.task.evaluate(tokens.cpu())
        self.reward_calls += tokens.shape[0]
        objs = self.env.to_strings(tokens)
        self._round_new.extend(self.seen.update(objs, raw.tolist(), logr.tolist(), self.round))
        mm = self.task.mode_mask(tokens.cpu()) if self.cfg.track_modes else None
        if mm is not None:
            self.modes_found.update(o for o, m in zip(objs, mm.tolist(), strict=True) if m)
        self._round_raw.append(raw)
        return logr.to(self.device)

    # -- one round ---------------------------------------------------------------------
    def collect(self) -> list[Trajectories]:
        cfg = self.cfg
        trajs: list[Trajectories] = []
        if cfg.local_search:
            m = max(1, cfg.batch_size // (cfg.ls_iterations + 1))
            beta = self.beta_dist.sample(m, self.device, self.gen)
            cur = sample_forward(self.env, self.policy, beta, cfg.epsilon, gen=self.gen)
            cur = cur.with_reward(self._evaluate(cur.terminals))
            trajs.append(cur)  # on_policy: the rows that took no exploratory action
            k = cfg.ls_backtrack or (self.env.traj_len + 1) // 2
            acc = []
            for _ in range(cfg.ls_iterations):
                prop, cur, a = local_search_step(self.env, self.policy, self._evaluate, cur, k, cfg.ls_filter,
                                                 self.gen)
                trajs.append(prop.mark(False))
                acc.append(a.float().mean())
            self._round_info["ls_accept"] = float(torch.stack(acc).mean()) if acc else 0.0
        else:
            beta = self.beta_dist.sample(cfg.batch_size, self.device, self.gen)
            t = sample_forward(self.env, self.policy, beta, cfg.epsilon, gen=self.gen)
            trajs.append(t.with_reward(self._evaluate(t.terminals)))  # on_policy set by the sampler
        return trajs

    def train_round(self) -> dict:
        cfg = self.cfg
        t0 = time.perf_counter()
        self._round_raw: list[torch.Tensor] = []
        self._round_info: dict = {}
        self._round_new: list[bool] = []
        self.policy.eval()
        fresh = self.collect()
        batch = Trajectories.cat(fresh)
        # only objects never seen before enter the buffer: it holds unique objects
        nm = torch.tensor(self._round_new, device=self.device)
        if nm.any():
            self.buffer.add(batch.terminals[nm], batch.log_reward[nm])
        # score-function objectives are on-policy: no replay batch (it would be excluded anyway)
        if cfg.replay_size > 0 and self.buffer.size > 0 and not is_on_policy_only(self.objective):
            objs, logr = self.buffer.sample(cfg.replay_size, self.gen)
            beta = self.beta_dist.sample(cfg.replay_size, self.device, self.gen)
            rep = sample_backward(self.env, self.policy, objs, beta, gen=self.gen).with_reward(
                logr.to(batch.log_reward)).mark(False)
            batch = Trajectories.cat([batch, rep])
        self.policy.train()
        losses = []
        for _ in range(cfg.grad_steps):
            s = score(self.env, self.policy, batch, self.energy_fn)
            loss, _info = self.objective(s)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            losses.append(loss.detach())
        raw = torch.cat(self._round_raw)
        self._best_raw = max(self._best_raw, float(raw.max()))  # running best: no scan of every object seen
        self.round += 1
        row = {
            "round": self.round,
            "reward_calls": self.reward_calls,
            "loss": float(torch.stack(losses).mean()),
            "log_z": float(self.policy.log_z(torch.ones(1, device=self.device))[0].detach()),
            "mean_raw": float(raw.mean()),
            "max_raw": float(raw.max()),
            "best_raw": self._best_raw,
            "unique_objects": len(self.seen.count),
            "modes": len(self.modes_found),
            "round_ms": (time.perf_counter() - t0) * 1e3,
            **self._round_info,
            **(self.task.round_metrics() if hasattr(self.task, "round_metrics") else {}),  # e.g. filtered
        }
        self.metrics.append(row)
        return row

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "round": self.round,
            "reward_calls": self.reward_calls,
            "policy": self.policy.state_dict(),
            "opt": self.opt.state_dict(),
            "buffer": self.buffer.state_dict(),
            "seen": self.seen.__dict__,
            "modes_found": sorted(self.modes_found),
            "metrics": self.metrics,
            "task": self.task.state_dict(),
            "rng": _rng_state(self.gen, self.device),
        }

    def load_state_dict(self, sd: dict) -> None:
        self.round, self.reward_calls = sd["round"], sd["reward_calls"]
        self.policy.load_state_dict(sd["policy"])
        self.opt.load_state_dict(sd["opt"])
        self.buffer.load_state_dict(sd["buffer"])
        self.seen = SeenStats(**sd["seen"])
        self.modes_found = set(sd["modes_found"])
        self.metrics = list(sd["metrics"])
        self._best_raw = max(self.seen.raw.values(), default=float("-inf"))
        self.task.load_state_dict(sd.get("task", {}))
        _set_rng_state(sd["rng"], self.gen, self.device, self.cfg.seed + self.round)

    def checkpoint(self) -> None:
        if self.run_dir is None:
            return
        import pandas as pd

        runs.atomic_torch_save(self.run_dir / runs.CHECKPOINT, self.state_dict())
        runs.atomic_write_csv(self.run_dir / runs.METRICS, pd.DataFrame(self.metrics))

    def resume(self) -> bool:
        if self.run_dir is None or not (self.run_dir / runs.CHECKPOINT).exists():
            return False
        # weights_only: a checkpoint holds tensors and plain containers only, so a run directory
        # from someone else cannot run code; everything lands on the CPU and is moved by its owner
        sd = torch.load(self.run_dir / runs.CHECKPOINT, map_location="cpu", weights_only=True)
        self.load_state_dict(sd)
        return True

    def train(self, rounds: int | None = None, on_round: Callable[[dict], None] | None = None) -> None:
        """Train until ``rounds`` rounds in total have run (a resumed run continues)."""
        target = self.cfg.rounds if rounds is None else rounds
        try:
            while self.round < target:
                row = self.train_round()
                if on_round is not None:
                    on_round(row)
                if self.round % self.cfg.checkpoint_every == 0 or self.round == target:
                    self.checkpoint()
        finally:
            self.task.close()

    # -- sampling from the trained policy ---------------------------------------------
    def sampling_beta(self, beta: float | None) -> float:
        """The inverse temperature to sample at: any beta > 0 for a temperature-conditional
        sampler (default 1), only the trained one for an unconditional sampler (default)."""
        from .errors import InputError

        trained = self.beta_dist.vals[0] if self.beta_dist.is_fixed else None
        if beta is None:
            return trained if self.cfg.conditioning == "none" and trained is not None else 1.0
        if not beta > 0:
            raise InputError(f"--beta must be > 0, got {beta}")
        if self.cfg.conditioning == "none" and trained is not None and beta != trained:
            raise InputError(f"this sampler was trained without temperature conditioning at beta = {trained:g} "
                             f"and cannot sample at beta = {beta:g}; train with --conditioning logit "
                             "--beta-dist uniform:LO,HI to choose beta at sampling time")
        return beta

    @torch.no_grad()
    def sample(self, n: int, beta: float = 1.0, batch: int = 4096) -> torch.Tensor:
        self.policy.eval()
        out = []
        for i in range(0, n, batch):
            b = torch.full((min(batch, n - i),), float(beta), device=self.device)
            out.append(sample_forward(self.env, self.policy, b, 0.0, gen=self.gen).terminals)
        return torch.cat(out) if out else self.env.initial(0, self.device)
