"""gfnx (JAX) peer for the sequence speed comparison: trajectory balance on molgfn's reward tables.

Does what gfnx's single-file baseline ``baselines/tb_tfbind.py`` (github.com/d-tiapkin/gfnx,
commit 1d914bc) does - an MLP policy (gfnx's ``eqx.nn.MLP(40, H, width H, depth 2)`` encoder, ReLU,
then a linear pooler to forward logits, a flow and backward logits), epsilon exploration by zeroing
the logits of a Bernoulli(epsilon) choice of rows, ``gfnx.utils.forward_rollout``, the TB loss over
the padded trajectory with the environment's masks and backward actions, Adam for the network and a
separate Adam for log Z, the whole training a jitted ``lax.fori_loop`` - written here against
gfnx's public API with plain JAX arrays (the baseline uses equinox, which gfnx 0.0.1 does not
install). Left out: the baseline's evaluation metrics module and its per-step logging callback
(both cost it time, so leaving them out favours gfnx).

Settings: those of issue 11's comparison (batch 32, width 128, epsilon 0.01 constant, lr 1e-3),
not the repository's yaml (batch 16, width 256, epsilon annealed 1 -> 0). log Z's rate defaults
to molgfn's 1e-2 (the baseline's is 0.1; the rate does not change the cost).

The reward is molgfn's tfbind8 table, read from ``$MOLGFN_DATA/tfbind8/SIX6_REF_R1_8mers.txt``
(the E-score min-max normalised over all 65,536 8-mers, R = 10 max(r, 1e-3)^3) and injected into
gfnx's TFBind8 reward module in place of its pickle, so both tools score the same thing.
``--env prepend-append`` (default) is molgfn's tfbind8 action space (8 forward, 2 backward
actions; gfnx's ``FixedPrependAppendSequenceEnvironment``); ``--env autoregressive`` is gfnx's own
``TFBind8Environment`` (append only: 4 forward, 1 backward).

``--task qm9str`` is gfnx's ``QM9SmallEnvironment`` (prepend/append of 11 blocks, length 5; as
``baselines/tb_qm9_small.py``, the one-hot covers the whole 14-token vocabulary) with the log-reward
table given by ``--log-rewards FILE.npy`` (written by ``bench/throughput.py --gfnx`` from molgfn's
qm9str task; tfbind8 takes one the same way, or parses the table file itself).

Run with the gfnx venv, one thread:

    XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
    MOLGFN_DATA=../shared/data /work/gfnx-venv/bin/python bench/peers/gfnx_tfbind8_tb.py --iterations 2000

``--per-iter N`` instead times N iterations in 5 chunks after a compiled warm-up chunk and prints
the median CPU / wall ms per iteration (JSON on the last line).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

T_START = (time.process_time(), time.perf_counter())  # before the imports: they count in the process time

import gfnx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from gfnx.environment.sequence import FixedPrependAppendSequenceEnvironment  # noqa: E402
from gfnx.utils import NUCLEOTIDES, NUCLEOTIDES_FULL_ALPHABET  # noqa: E402

L, A = 8, 4  # tfbind8


def molgfn_log_rewards(data_dir: str) -> np.ndarray:
    """log R of all 65,536 8-mers in base-4 order (first letter most significant), as molgfn's tfbind8."""
    path = os.path.join(data_dir, "tfbind8", "SIX6_REF_R1_8mers.txt")
    rows = np.loadtxt(path, skiprows=1, usecols=(0, 1, 2), delimiter="\t", dtype=str)
    code = {c: i for i, c in enumerate("ACGT")}
    place = A ** np.arange(L - 1, -1, -1)
    table = np.full(A**L, np.nan)
    escore = rows[:, 2].astype(np.float64)
    for col in (0, 1):  # a sequence and its reverse complement share the score
        digits = np.array([[code[c] for c in s] for s in rows[:, col]])
        table[digits @ place] = escore
    if np.isnan(table).any():
        raise SystemExit(f"{path} does not cover all 65,536 8-mers")
    r = (table - table.min()) / (table.max() - table.min())
    return np.log(10.0) + 3.0 * np.log(np.maximum(r, 1e-3))


class InjectedReward(gfnx.TFBind8RewardModule):
    """gfnx's table-lookup reward (base-``nchar`` index, first token most significant - the layout of
    its TFBind8 and QM9Small modules) on a given table instead of its pickle."""

    def __init__(self, rewards: np.ndarray, nchar: int = A, max_length: int = L):
        super().__init__(nchar=nchar, max_length=max_length)
        if rewards.shape != (nchar**max_length,):
            raise SystemExit(f"the reward table has {rewards.shape} entries, not {nchar}^{max_length}")
        self._rewards = jnp.asarray(rewards, dtype=jnp.float32)

    def init(self, rng_key, dummy_state):
        return {"rewards": self._rewards}


class PrependAppendTFBind8(FixedPrependAppendSequenceEnvironment):
    """TFBind8 with molgfn's action space: prepend or append any of the 4 letters."""

    def __init__(self, reward_module) -> None:
        ids = {c: i for i, c in enumerate(NUCLEOTIDES_FULL_ALPHABET)}
        super().__init__(reward_module, max_length=L, nchar=len(NUCLEOTIDES), ntoken=len(NUCLEOTIDES_FULL_ALPHABET),
                         bos_token=ids["[BOS]"], eos_token=ids["[EOS]"], pad_token=ids["[PAD]"])

    @property
    def name(self) -> str:
        return "TFBind8-prepend-append"


def init_mlp(key, sizes: list[int]) -> list[dict]:
    """Linear layers initialised as equinox / torch do: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    layers = []
    for k, (i, o) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:], strict=True),
                         strict=True):
        kw, kb = jax.random.split(k)
        lim = 1.0 / np.sqrt(i)
        layers.append({"w": jax.random.uniform(kw, (i, o), minval=-lim, maxval=lim),
                       "b": jax.random.uniform(kb, (o,), minval=-lim, maxval=lim)})
    return layers


def apply_policy(layers: list[dict], obs: jnp.ndarray, n_fwd: int, vocab: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """obs (..., 1 + L) token ids with BOS first -> forward logits and backward logits. The layers are
    the baseline's: encoder MLP (ReLU after its first two layers, none after its third), then the pooler."""
    x = jax.nn.one_hot(obs[..., 1:], vocab).reshape(*obs.shape[:-1], -1)  # ids >= vocab one-hot to zeros
    for i, p in enumerate(layers):
        x = x @ p["w"] + p["b"]
        if i < len(layers) - 2:
            x = jax.nn.relu(x)
    return x[..., :n_fwd], x[..., n_fwd + 1:]  # [fwd | flow | bwd]; TB does not use the flow


def build(args):
    if args.log_rewards:
        log_r = np.load(args.log_rewards)
    elif args.task == "tfbind8":
        log_r = molgfn_log_rewards(os.environ.get("MOLGFN_DATA", os.path.join(os.path.dirname(__file__), "..",
                                                                               "..", "..", "shared", "data")))
    else:
        raise SystemExit("--task qm9str needs --log-rewards FILE.npy (bench/throughput.py --gfnx writes it)")
    if args.task == "qm9str":
        env = gfnx.QM9SmallEnvironment(InjectedReward(np.exp(log_r), nchar=11, max_length=5))
        vocab, length = env.ntoken, 5
    else:
        reward = InjectedReward(np.exp(log_r))
        env = PrependAppendTFBind8(reward) if args.env == "prepend-append" else gfnx.TFBind8Environment(reward)
        vocab, length = 5, L
    env_params = env.init(jax.random.PRNGKey(1))
    n_fwd, n_bwd = env.action_space.n, env.backward_action_space.n
    key, net_key = jax.random.split(jax.random.PRNGKey(args.seed))
    H = args.hidden
    params = {"net": init_mlp(net_key, [vocab * length, H, H, H, n_fwd + 1 + n_bwd]), "log_z": jnp.array(0.0)}
    labels = {"net": jax.tree.map(lambda _: "net", params["net"]), "log_z": "log_z"}
    opt = optax.multi_transform({"net": optax.adam(args.lr), "log_z": optax.adam(args.lr_logz)}, labels)
    eps = args.epsilon

    def policy_fn(rng, obs, net):
        fwd, _ = apply_policy(net, obs, n_fwd, vocab)
        explore = jax.random.bernoulli(rng, eps, (fwd.shape[0],))
        return jnp.where(explore[:, None], 0.0, fwd), {}  # a zero row is the uniform policy

    def loss_fn(params, traj):
        fwd, bwd = apply_policy(params["net"], traj.obs, n_fwd, vocab)  # (B, T+1, .)
        inv_f = jax.vmap(env.get_invalid_mask, in_axes=(1, None), out_axes=1)(traj.state, env_params)
        logp_f = jax.nn.log_softmax(gfnx.utils.mask_logits(fwd, inv_f), -1)
        lpf = jnp.take_along_axis(logp_f, traj.action[..., None], -1)[..., 0]
        lpf = jnp.where(traj.pad, 0.0, lpf).sum(1)
        prev = jax.tree.map(lambda x: x[:, :-1], traj.state)
        nxt = jax.tree.map(lambda x: x[:, 1:], traj.state)
        b_act = jax.vmap(env.get_backward_action, in_axes=(1, 1, 1, None), out_axes=1)(
            prev, traj.action[:, :-1], nxt, env_params)
        inv_b = jax.vmap(env.get_invalid_backward_mask, in_axes=(1, None), out_axes=1)(nxt, env_params)
        logp_b = jax.nn.log_softmax(gfnx.utils.mask_logits(bwd[:, 1:], inv_b), -1)
        lpb = jnp.take_along_axis(logp_b, b_act[..., None], -1)[..., 0]
        pad = traj.pad[:, :-1]
        target = (jnp.where(pad, 0.0, lpb) + jnp.where(pad, 0.0, traj.log_gfn_reward[:, :-1])).sum(1)
        return ((params["log_z"] + lpf - target) ** 2).mean()

    def step(_i, carry):
        params, opt_state, key = carry
        key, k = jax.random.split(key)
        traj, _info = gfnx.utils.forward_rollout(k, args.batch_size, policy_fn, params["net"], env, env_params)
        loss, grads = jax.value_and_grad(loss_fn)(params, traj)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key

    @jax.jit
    def run(carry, n):
        return jax.lax.fori_loop(0, n, step, carry)

    return (params, opt.init(params), key), run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--per-iter", type=int, default=0, help="time this many iterations after warm-up instead")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epsilon", type=float, default=0.01)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-logz", type=float, default=1e-2)
    ap.add_argument("--task", choices=("tfbind8", "qm9str"), default="tfbind8")
    ap.add_argument("--log-rewards", help="a .npy of log R over all objects (base-A index, first token most "
                    "significant), e.g. molgfn's table")
    ap.add_argument("--env", choices=("prepend-append", "autoregressive"), default="prepend-append",
                    help="tfbind8's action space")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    carry, run = build(args)
    if args.per_iter:
        chunk = max(1, args.per_iter // 5)
        carry = jax.block_until_ready(run(carry, chunk))  # compile + warm-up
        cpu, wall = [], []
        for _ in range(5):
            c, w = time.process_time(), time.perf_counter()
            carry = jax.block_until_ready(run(carry, chunk))
            cpu.append((time.process_time() - c) / chunk * 1e3)
            wall.append((time.perf_counter() - w) / chunk * 1e3)
        print(json.dumps({"cpu_ms": statistics.median(cpu), "wall_ms": statistics.median(wall),
                          "jax": jax.__version__, "gfnx": "0.0.1"}))
        return
    params, _, _ = jax.block_until_ready(run(carry, args.iterations))
    c, w = time.process_time() - T_START[0], time.perf_counter() - T_START[1]
    print(json.dumps({"cpu_s": c, "wall_s": w, "log_z": float(params["log_z"]), "iterations": args.iterations}),
          file=sys.stdout)


if __name__ == "__main__":
    main()
