"""The training loop: sample, evaluate, (local search), replay, gradient steps, checkpoint.

One round spends ``batch_size`` reward calls whatever the method: with local search,
M = batch_size // (I + 1) chains each make I proposals (LS-GFN's accounting).

Preference-conditioned multi-objective training (``preference_dist``, Jain et al., ICML 2023):
every trajectory, fresh or replayed, gets its own w ~ Dirichlet(alpha 1_k) beside its beta and
is trained towards R(x | w)^beta with R(x | w) = sum_i w_i y_i(x) (``molgfn.conditioning``);
the replay buffer keeps each object's objective vector y(x) to recompute R(x | w) for a new w.
"""

from __future__ import annotations

import functools
import json
import math
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from . import runs
from .adam import make_adam
from .budget import check_supported, countable, within_budget
from .calibration import init_log_z, round_columns
from .conditioning import make_cond, preferences
from .config import BETA_MAX, BetaDist, TrainConfig, parse_preference_dist, resolve_device
from .energies import energy_function
from .history import SEEN_LOG, AppendLog, MetricsLog, SeenStats, legacy_snapshot, read_metrics, read_seen
from .limits import check_memory
from .local_search import local_search_step
from .objectives import get_objective, is_on_policy_only, needs_energy, needs_flow_head
from .oracle import oracle_counts
from .policies import MLPPolicy
from .replay import ReplayBuffer
from .sampling import sample_backward, sample_forward
from .trajectories import Trajectories, score


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


def build_policy(cfg: TrainConfig, env, n_prefs: int = 0) -> MLPPolicy:
    if hasattr(env, "make_policy"):  # e.g. the fragment env's graph-transformer policy
        return env.make_policy(cfg, n_prefs=n_prefs) if n_prefs else env.make_policy(cfg)
    return MLPPolicy(env.state_dim, env.n_fwd, env.n_bwd, hidden=cfg.hidden, n_layers=cfg.n_layers,
                     conditioning=cfg.conditioning, flow_head=needs_flow_head(cfg.objective),
                     uniform_pb=cfg.uniform_pb, n_prefs=n_prefs)


def preference_setup(cfg: TrainConfig, task):
    """(PreferenceDist, WeightedSum of the task's components) of a preference-conditioned run, else (None, None)."""
    alpha = parse_preference_dist(cfg.preference_dist)
    if alpha is None:
        return None, None
    from .errors import InputError
    from .moo import PreferenceDist, WeightedSum

    comps = getattr(task, "components", None)
    if not comps or len(comps) < 2:
        raise InputError(f"--preference-dist conditions on a weighting of several objectives; task {task.name!r} has "
                         "one (use a multi-objective task, or --objectives with an --oracle returning vectors)")
    return PreferenceDist(len(comps), alpha), WeightedSum(comps)


class Trainer:
    def __init__(self, cfg: TrainConfig, task, run_dir: Path | None = None, check_training_memory: bool = True) -> None:
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
        self.pref_dist, self.scoring = preference_setup(cfg, task)
        check_supported(cfg.max_oracle_calls, self.pref_dist)
        self.n_prefs = self.pref_dist.k if self.pref_dist is not None else 0
        if check_training_memory:  # --hidden x --layers, batch: estimated memory (reading a run needs far less)
            check_memory(cfg, self.env, self.n_prefs, self.device.type)
        self.policy = build_policy(cfg, self.env, self.n_prefs).to(self.device)
        # torch's fused Adam kernel (one call for all parameters, CPU and CUDA) without torch.optim, which
        # imports torch._dynamo (~0.9 s CPU per process); state dicts as torch.optim.Adam's (molgfn.adam)
        self.opt = make_adam(self.policy.param_groups(cfg.lr, cfg.lr_logz))
        self.objective = get_objective(cfg.objective, **cfg.objective_options)
        self.buffer = ReplayBuffer(tuple(self.env.state_shape), self.device, cfg.replay_top_frac,
                                   n_vectors=self.n_prefs)
        self.seen = SeenStats()
        self.round = 0
        self.reward_calls = 0
        self.budget_used = 0  # unique valid objects scored: PMO's oracle calls (--max-oracle-calls)
        self._countable = countable(task)
        self.modes_found: set[str] = set()
        self.metrics: list[dict] = []
        self._best = max if getattr(task, "higher_is_better", True) else min  # best_raw: the task's best score
        self._best_raw = float("-inf") if self._best is max else float("inf")
        self._offsets = {"seen": 0, "metrics": 0}  # bytes of the append-only logs the last checkpoint covers
        self._oracle_base: dict[str, int] = {}  # score-store counts of earlier processes of this run
        self._logs: tuple[AppendLog, MetricsLog] | None = None
        self._legacy = False  # loaded from a checkpoint that held everything (older molgfn)
        self._stop: int | None = None  # a signal received during training
        self._last_checkpoint: int | None = None
        self.energy_fn: Callable | None = None
        if needs_energy(cfg.objective):  # FL-DB: the task's energy hook (tabular tasks: max-completion)
            self.energy_fn = energy_function(task)
            if self.energy_fn is None:
                from .errors import InputError

                raise InputError(f"--objective {cfg.objective} needs state energies; task {task.name!r} defines none")

    # -- conditioning ----------------------------------------------------------------------
    def _cond(self, n: int) -> torch.Tensor:
        """Conditioning of n new trajectories: beta (n,), or [beta, w] (n, 1 + k) with preferences. An objective
        that self-normalises per conditioning (Renyi) gets each draw for ``rows_per_condition`` rows in a row."""
        g = getattr(self.objective, "rows_per_condition", 1)
        k = -(-n // g)
        beta = self.beta_dist.sample(k, self.device, self.gen)
        w = self.pref_dist.sample(k, self.device, self.gen) if self.pref_dist is not None else None
        cond = make_cond(beta, w)
        return cond if g == 1 else cond.repeat_interleave(g, 0)[:n]

    def _unit_cond(self) -> torch.Tensor:
        """beta = 1 (and equal preferences): the log Z reported in metrics.csv."""
        beta = torch.ones(1, device=self.device)
        return make_cond(beta, None if self.pref_dist is None else torch.full((1, self.n_prefs), 1 / self.n_prefs))

    def _objective_vectors(self, objs: list[str]) -> torch.Tensor:
        """(n, k) transformed objective vectors; 0 for objects that get the floor reward (invalid
        or filtered molecules, and objects the oracle failed on: NaN vectors), so that R(x | w) is the
        floor for them at every w."""
        Y = np.zeros((len(objs), self.n_prefs))
        ok = [i for i, o in enumerate(objs) if self.task.is_candidate(o)] if hasattr(self.task, "is_candidate") \
            else list(range(len(objs)))
        if ok:
            Y[ok] = np.nan_to_num(self.scoring.transformed(self.task.objective_vectors([objs[i] for i in ok])),
                                  nan=0.0)
        return torch.from_numpy(Y).to(self.device)

    def _conditional_log_reward(self, Y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        from .moo import conditional_log_reward

        t = self.task
        return conditional_log_reward(Y, w, t.reward_exponent, t.raw_floor, t.log_scale).to(self.device)

    # -- oracle ------------------------------------------------------------------------
    @property
    def budget_spent(self) -> bool:
        return self.cfg.max_oracle_calls is not None and self.budget_used >= self.cfg.max_oracle_calls

    def _evaluate(self, tokens: torch.Tensor, pref: torch.Tensor | None = None) -> torch.Tensor:
        """log R of a batch (counted reward calls); with preferences ``pref`` (n, k), log R(x | w)."""
        if self.cfg.max_oracle_calls is not None:
            keep = within_budget(self.env.to_strings(tokens), self.seen.count,
                                 self.cfg.max_oracle_calls - self.budget_used, self._countable)
            if keep is not None:
                return self._evaluate_part(tokens, keep)
        raw, logr = self.task.evaluate(tokens.cpu())
        self.reward_calls += tokens.shape[0]
        objs = self.env.to_strings(tokens)
        if hasattr(self.task, "warn_if_all_floored"):
            self.task.warn_if_all_floored(raw)  # once per task: every object would get the same reward
        raw_l, logr_l = raw.tolist(), logr.tolist()
        new = self.seen.update(objs, raw_l, logr_l, self.round)
        self._round_new.extend(new)
        if self.cfg.max_oracle_calls is not None:
            self.budget_used += sum(1 for o, n in zip(objs, new, strict=True) if n and self._countable(o))
        self._round_log["objs"] += objs
        self._round_log["raw"] += raw_l
        self._round_log["logr"] += logr_l
        mm = self.task.mode_mask(tokens.cpu()) if self.cfg.track_modes else None
        if mm is not None:
            modes = [o for o, m in zip(objs, mm.tolist(), strict=True) if m]
            self.modes_found.update(modes)
            self._round_log["modes"] += modes
        self._round_raw.append(raw)
        if self.pref_dist is not None:
            Y = self._objective_vectors(objs)
            self._round_y.append(Y)
            self._round_fixed.append(logr.to(self.device))  # the replay priority: the task's own weighting
            return self._conditional_log_reward(Y, pref)
        return logr.to(self.device)

    def _evaluate_part(self, tokens: torch.Tensor, keep: list[bool]) -> torch.Tensor:
        """The round that reaches the budget: rows past it are not scored; they get the floor
        reward, are not recorded as seen and never enter the replay buffer."""
        n = tokens.shape[0]
        idx = [i for i, k in enumerate(keep) if k]
        floor = torch.full((n,), float(self.task.raw_floor), dtype=torch.float64)
        out = self.task.log_reward(floor).to(self.device)
        new_mark, raw_mark = len(self._round_new), len(self._round_raw)
        if idx:
            out[idx] = self._evaluate(tokens[idx]).to(out)
        inner_new = self._round_new[new_mark:]
        del self._round_new[new_mark:]
        full_new = [False] * n
        for j, i in enumerate(idx):
            full_new[i] = inner_new[j]
        self._round_new.extend(full_new)
        if idx:
            floor[idx] = torch.cat(self._round_raw[raw_mark:])
        del self._round_raw[raw_mark:]
        self._round_raw.append(floor)
        return out

    # -- one round ---------------------------------------------------------------------
    def collect(self) -> list[Trajectories]:
        cfg = self.cfg
        trajs: list[Trajectories] = []
        seeds = None
        if self.round == 0 and self.cfg.seed_molecules:  # round 0 of a run with --seed-molecules
            from .seeding import seed_tensor, seed_trajectories

            seeds = seed_tensor(self.cfg.seed_molecules, self.env, self.device)
        if cfg.local_search:
            m = max(1, cfg.batch_size // (cfg.ls_iterations + 1))
            beta = self._cond(m)
            evaluate = functools.partial(self._evaluate, pref=preferences(beta))  # each chain keeps its w
            n_seeded = 0 if seeds is None else min(m // 2, seeds.shape[0])  # up to half the chains: seeds
            cur = sample_forward(self.env, self.policy, beta[n_seeded:], cfg.epsilon, gen=self.gen)
            cur = cur.with_reward(self._evaluate(cur.terminals, preferences(beta[n_seeded:])))
            trajs.append(cur)  # on_policy: the rows that took no exploratory action
            if n_seeded:  # seed chains, scored after the sampler's (the batch keeps the order of the reward calls)
                seeded = seed_trajectories(self, seeds[:n_seeded], beta[:n_seeded])
                trajs.append(seeded)
                cur = Trajectories.cat([seeded, cur])  # chain i keeps beta[i]
            k = cfg.ls_backtrack or (self.env.traj_len + 1) // 2
            acc = []
            for _ in range(cfg.ls_iterations):
                prop, cur, a = local_search_step(self.env, self.policy, evaluate, cur, k, cfg.ls_filter, self.gen)
                trajs.append(prop.mark(False))
                acc.append(a.float().mean())
            self._round_info["ls_accept"] = float(torch.stack(acc).mean()) if acc else 0.0
        else:
            beta = self._cond(cfg.batch_size)
            t = sample_forward(self.env, self.policy, beta, cfg.epsilon, gen=self.gen)
            trajs.append(t.with_reward(self._evaluate(t.terminals, preferences(beta))))  # on_policy: the sampler
            n_seeded = 0
        if seeds is not None and n_seeded < seeds.shape[0]:  # the other seeds: scored, trained on, replayed
            trajs.append(seed_trajectories(self, seeds[n_seeded:], self._cond(seeds.shape[0] - n_seeded)))
        return trajs

    def train_round(self) -> dict:
        cfg = self.cfg
        t0 = time.perf_counter()
        self._round_raw: list[torch.Tensor] = []
        self._round_info: dict = {}
        self._round_new: list[bool] = []
        self._round_y: list[torch.Tensor] = []  # preference runs: objective vectors and fixed log R, batch order
        self._round_fixed: list[torch.Tensor] = []
        self._round_log: dict = {"r": self.round, "objs": [], "raw": [], "logr": [], "modes": [], "new": [],
                                 "new_logr": []}
        self._set_training(False)
        fresh = self.collect()
        if self.round == 0 and cfg.logz_init == "is":  # a scalar log Z starts at the first batch's IS estimate
            init_log_z(self.env, self.policy, fresh[0])
        batch = Trajectories.cat(fresh)
        log_on = self._logs is not None  # the round's log line is built only when it is written
        # only objects never seen before enter the buffer: it holds unique objects
        if any(self._round_new):  # a host list: no device sync to decide
            nm = torch.tensor(self._round_new, device=self.device)
            new_objs, new_logr = batch.terminals[nm], batch.log_reward[nm].to(torch.float64)
            new_y = None
            if self.pref_dist is not None:  # the buffer ranks by the fixed weighting and keeps y(x)
                new_logr, new_y = torch.cat(self._round_fixed)[nm], torch.cat(self._round_y)[nm]
                if log_on:
                    self._round_log["new_y"] = new_y.cpu().tolist()
            self.buffer.add(new_objs, new_logr, new_y)
            if log_on:
                self._round_log["new"] = new_objs.cpu().tolist()
                self._round_log["new_logr"] = new_logr.tolist()
        # score-function objectives are on-policy: no replay batch (it would be excluded anyway)
        if cfg.replay_size > 0 and self.buffer.size > 0 and not is_on_policy_only(self.objective):
            idx = self.buffer.sample_indices(cfg.replay_size, self.gen)
            objs, logr = self.buffer.objects[idx], self.buffer.log_reward[idx]
            beta = self._cond(cfg.replay_size)
            if self.pref_dist is not None:  # a replayed object is trained at a new w: R(x | w) from y(x)
                logr = self._conditional_log_reward(self.buffer.vectors[idx], preferences(beta))
            rep = sample_backward(self.env, self.policy, objs, beta, gen=self.gen).with_reward(
                logr.to(batch.log_reward)).mark(False)
            batch = Trajectories.cat([batch, rep])
        self._set_training(True)
        losses = []
        for _ in range(cfg.grad_steps):
            s = score(self.env, self.policy, batch, self.energy_fn)
            loss, _info = self.objective(s)
            loss_f = loss.item()  # the round's one read of the loss: the NaN check and the metrics row
            if not math.isfinite(loss_f):
                self._diverged("the loss")
            for p in self._params():  # = policy.zero_grad(set_to_none=True) without its generator walk
                p.grad = None
            loss.backward()
            self.opt.step()
            losses.append(loss_f)
        raw = torch.cat(self._round_raw)
        raw_max = float(raw.max())
        batch_best = raw_max if self._best is max else float(raw.min())
        self._best_raw = self._best(self._best_raw, batch_best)  # running best: no scan of every object seen
        self.round += 1
        row = {
            "round": self.round,
            "reward_calls": self.reward_calls,
            "loss": losses[0] if len(losses) == 1 else float(torch.tensor(losses, dtype=loss.dtype).mean()),
            "log_z": self._log_z_at_unit(),
            "mean_raw": float(raw.mean()),
            "max_raw": raw_max,
            "best_raw": self._best_raw,
            "unique_objects": len(self.seen.count),
            "modes": len(self.modes_found),
            "round_ms": (time.perf_counter() - t0) * 1e3,
            **self._oracle_counts(),  # new oracle calls vs score-store hits (tasks with a store)
            **self._round_info,
            **(self.task.round_metrics() if hasattr(self.task, "round_metrics") else {}),  # e.g. filtered
            **round_columns(self),  # every calibration_every rounds: an importance-sampled log Z beside log_z
            **({"budget_used": self.budget_used} if self.cfg.max_oracle_calls is not None else {}),
        }
        self.metrics.append(row)
        if self._logs is not None:
            seen_log, metrics_log = self._logs
            seen_log.write((json.dumps(self._round_log, separators=(",", ":")) + "\n").encode())
            metrics_log.append(row, self.metrics)
        return row

    def _log_z_at_unit(self) -> float:
        lz = getattr(self.policy, "log_z", None)
        if getattr(lz, "conditional", True) is False and isinstance(getattr(lz, "value", None), torch.Tensor):
            return float(lz.value.detach())  # an unconditional log Z is one parameter: no forward pass
        return float(self.policy.log_z(self._unit_cond())[0].detach())

    def _params(self) -> list[torch.Tensor]:
        cached = getattr(self, "_param_list", None)
        if cached is None or cached[0] is not self.policy:
            cached = self._param_list = (self.policy, list(self.policy.parameters()))
        return cached[1]

    def _set_training(self, mode: bool) -> None:
        """policy.train(mode) without Module.train's recursive walk and Module.__setattr__ (~0.1 ms a
        round on a small MLP): the flag written into each module directly, when none overrides ``train``."""
        mods = getattr(self, "_mode_modules", None)
        if mods is None or mods[0] is not self.policy:
            flat = list(self.policy.modules())
            plain = all(type(m).train is torch.nn.Module.train for m in flat)
            mods = self._mode_modules = (self.policy, flat if plain else None)
        if mods[1] is None:
            self.policy.train(mode)
            return
        for m in mods[1]:
            m.__dict__["training"] = mode

    def _diverged(self, what: str) -> None:
        from .errors import TrainingDiverged

        last = self._last_checkpoint
        kept = (f"the last good checkpoint (round {last}) is kept: `--resume` continues from it"
                if last is not None else "no checkpoint was written yet")
        raise TrainingDiverged(f"training diverged at round {self.round + 1}: {what} became NaN/inf; {kept}. "
                               "Try a smaller --lr / --lr-logz or a lower --reward-exponent / --beta-dist")

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What a checkpoint holds: the model, optimiser, RNGs and counters, and how far the
        append-only logs (``molgfn.history``) reach. Its size does not grow with the run."""
        return {
            "format": 2,
            "round": self.round,
            "reward_calls": self.reward_calls,
            "best_raw": self._best_raw,
            "policy": self.policy.state_dict(),
            "opt": self.opt.state_dict(),
            "task": self.task.state_dict(),
            "rng": _rng_state(self.gen, self.device),
            "logs": dict(self._offsets),
            "oracle_counts": self._oracle_counts(),
        }

    def _oracle_counts(self) -> dict[str, int]:
        """The score store's counts over the whole run: those of earlier processes (from the
        checkpoint) plus this one's. Calls made after the last checkpoint of a killed process are
        not counted again: their scores come back from the store as hits."""
        now = oracle_counts(self.task)
        return {k: self._oracle_base.get(k, 0) + v for k, v in now.items()}

    def load_state_dict(self, sd: dict) -> None:
        self.round, self.reward_calls = sd["round"], sd["reward_calls"]
        self.policy.load_state_dict(sd["policy"])
        self.opt.load_state_dict(sd["opt"])
        if "seen" in sd:  # an older checkpoint that holds everything seen; the logs are rewritten on resume
            self.buffer.load_state_dict(sd["buffer"])
            self.seen = SeenStats(**sd["seen"])
            self.modes_found = set(sd["modes_found"])
            self.metrics = list(sd["metrics"])
            self._best_raw = self._best(self.seen.raw.values(), default=self._best_raw)
            self._legacy = True
        else:
            self._offsets = {k: int(v) for k, v in sd["logs"].items()}
            self._replay_logs()
            self._best_raw = float(sd["best_raw"])
        self.task.load_state_dict(sd.get("task", {}))
        self._oracle_base = {k: int(v) for k, v in sd.get("oracle_counts", {}).items()}
        _set_rng_state(sd["rng"], self.gen, self.device, self.cfg.seed + self.round)
        self.budget_used = sum(1 for o in self.seen.count if self._countable(o))
        self._last_checkpoint = self.round

    def _replay_logs(self) -> None:
        """Rebuild seen objects, modes, replay buffer and metrics from the logs, up to the checkpoint."""
        from .errors import RunFileError

        assert self.run_dir is not None
        path = self.run_dir / SEEN_LOG
        self.seen, self.modes_found = SeenStats(), set()
        self.buffer = ReplayBuffer(tuple(self.env.state_shape), self.device, self.cfg.replay_top_frac,
                                   n_vectors=self.n_prefs)
        try:
            for rec in read_seen(path, self._offsets["seen"]):
                self.seen.update(rec["objs"], rec["raw"], rec["logr"], rec["r"])
                self.modes_found.update(rec["modes"])
                if rec["new"]:
                    new = torch.tensor(rec["new"], dtype=torch.long, device=self.device)
                    within = getattr(self.env, "within_limits", None)  # a run logged before a size limit
                    keep = within(new).cpu() if within is not None else torch.ones(len(new), dtype=torch.bool)
                    self.buffer.add(new[keep.to(new.device)], torch.tensor(rec["new_logr"], dtype=torch.float64)[keep],
                                    torch.tensor(rec["new_y"], dtype=torch.float64)[keep] if self.n_prefs else None)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise RunFileError(f"{path} is damaged ({type(e).__name__}: {e}); restore it from a backup, or "
                               "start the run again with --overwrite") from None
        self.metrics = read_metrics(self.run_dir / runs.METRICS, self._offsets["metrics"])
        if len(self.metrics) != self.round:
            raise RunFileError(f"{self.run_dir / runs.METRICS} holds {len(self.metrics)} rows where the "
                               f"checkpoint has {self.round} rounds; restore it from a backup, or start the run "
                               "again with --overwrite")

    def _open_logs(self) -> None:
        """Open the append-only logs at the checkpoint's lengths (cutting what a crash left after it)."""
        if self._logs is not None or self.run_dir is None:
            return
        seen_log = AppendLog(self.run_dir / SEEN_LOG, 0 if self._legacy else self._offsets["seen"],
                             flush_each=False)  # read only up to a checkpoint: buffered till then
        metrics_log = MetricsLog(self.run_dir / runs.METRICS, 0 if self._legacy else self._offsets["metrics"],
                                 self.metrics)
        if self._legacy:  # migrate: one snapshot line per object seen so far, then append as usual
            seen_log.write(legacy_snapshot(self.seen, self.modes_found, self.buffer))
            for i, row in enumerate(self.metrics):
                metrics_log.append(row, self.metrics[: i + 1])
            self._legacy = False
        self._logs = (seen_log, metrics_log)

    def checkpoint(self) -> None:
        if self.run_dir is None:
            return
        bad = [n for n, p in self.policy.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()]
        if bad:
            self._diverged(f"the weights ({', '.join(bad[:3])})")
        self._open_logs()
        assert self._logs is not None
        # the logs reach the disk before the checkpoint that records their lengths
        self._offsets = {"seen": self._logs[0].sync(), "metrics": self._logs[1].sync()}
        runs.atomic_torch_save(self.run_dir / runs.CHECKPOINT, self.state_dict())
        self._last_checkpoint = self.round

    def close_logs(self) -> None:
        if self._logs is not None:
            for log in self._logs:
                log.close()
            self._logs = None

    def resume(self) -> bool:
        if self.run_dir is None or not (self.run_dir / runs.CHECKPOINT).exists():
            return False
        self.load_state_dict(runs.load_checkpoint(self.run_dir / runs.CHECKPOINT))
        return True

    def _on_signal(self, signum, frame) -> None:
        if self._stop is not None:  # a second Ctrl-C: stop now, the last checkpoint is kept
            raise KeyboardInterrupt
        self._stop = signum

    def train(self, rounds: int | None = None, on_round: Callable[[dict], None] | None = None) -> None:
        """Train until ``rounds`` rounds in total have run (a resumed run continues).

        SIGINT / SIGTERM finish the current round, write a checkpoint and raise ``Interrupted``;
        the task (and its oracle workers) is closed on every way out."""
        import signal
        import threading

        from .errors import Interrupted

        target = self.cfg.rounds if rounds is None else rounds
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        self._stop = None
        try:
            self._open_logs()
            while self.round < target and not self.budget_spent:
                row = self.train_round()
                if on_round is not None:
                    on_round(row)
                if self._stop is not None:
                    self.checkpoint()
                    name = signal.Signals(self._stop).name
                    raise Interrupted(self._stop, f"{name} received: stopped after round {self.round} of "
                                                  f"{target} with a checkpoint")
                if self.round % self.cfg.checkpoint_every == 0 or self.round == target or self.budget_spent:
                    self.checkpoint()
        except (Exception, KeyboardInterrupt) as e:
            # a signal that broke the round (e.g. Ctrl-C reaching oracle workers, or a second Ctrl-C):
            # the round is abandoned and the last checkpoint stands
            signum = self._stop if self._stop is not None else (
                signal.SIGINT if isinstance(e, KeyboardInterrupt) else None)
            if signum is None or isinstance(e, Interrupted):
                raise
            last = self._last_checkpoint
            kept = f"the last checkpoint (round {last}) is kept" if last is not None else "no checkpoint was written"
            raise Interrupted(int(signum), f"{signal.Signals(signum).name} received during round {self.round + 1}: "
                                           f"that round was abandoned and {kept}") from None
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
            self.close_logs()
            self.task.close()

    # -- sampling from the trained policy ---------------------------------------------
    def sampling_beta(self, beta: float | None) -> float:
        """The inverse temperature to sample at: any beta > 0 for a temperature-conditional
        sampler (default 1), only the trained one for an unconditional sampler (default)."""
        from .errors import InputError

        trained = self.beta_dist.vals[0] if self.beta_dist.is_fixed else None
        if beta is None:
            return trained if self.cfg.conditioning == "none" and trained is not None else 1.0
        if not 0 < beta <= BETA_MAX:
            raise InputError(f"--beta must be a finite number in (0, {BETA_MAX:g}], got {beta}")
        if self.cfg.conditioning == "none" and trained is not None and beta != trained:
            raise InputError(f"this sampler was trained without temperature conditioning at beta = {trained:g} "
                             f"and cannot sample at beta = {beta:g}; train with --conditioning logit "
                             "--beta-dist uniform:LO,HI to choose beta at sampling time")
        return beta

    def sampling_preference(self, spec) -> torch.Tensor | None:
        """A preference vector (k,) on the simplex from "0.7,0.1,..." or numbers (scaled to sum 1);
        None stays None (sample with w drawn from the training distribution)."""
        from .errors import InputError
        from .moo import parse_preference

        if spec is None:
            return None
        if self.pref_dist is None:
            raise InputError("--preference needs a preference-conditioned sampler; this run was trained on one fixed "
                             "weighting (train a multi-objective task without --weights, or with --preference-dist "
                             "dirichlet:1)")
        return torch.as_tensor(parse_preference(spec, [c.name for c in self.scoring.components]))

    @torch.no_grad()
    def sample(self, n: int, beta: float = 1.0, batch: int = 4096, pref=None) -> torch.Tensor:
        """n terminal states at ``beta``; a preference-conditioned sampler at preference ``pref``
        (a spec or (k,) vector), or with w ~ the training distribution, one per sample, when None."""
        self.policy.eval()
        w = self.sampling_preference(pref)
        out = []
        for i in range(0, n, batch):
            b = torch.full((min(batch, n - i),), float(beta), device=self.device)
            if self.pref_dist is not None:
                ws = self.pref_dist.sample(b.shape[0], self.device, self.gen) if w is None else w.expand(b.shape[0], -1)
                b = make_cond(b, ws)
            out.append(sample_forward(self.env, self.policy, b, 0.0, gen=self.gen).terminals)
        return torch.cat(out) if out else self.env.initial(0, self.device)
