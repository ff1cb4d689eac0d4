"""Online training of a neural closure: a small network, trained through the
solver, so that a coarse run tracks a coarsened fine-resolution reference.

Setup (SI units). The reference is the ``unstable_jet`` case (a Bickley jet
that rolls up into eddies in 2-3 days) run at 128 x 128 cells and
block-averaged to 32 x 32 every coarse time step: block averages of h, hu,
hv are exactly the finite-volume cell averages on the coarse grid. The same
case run at 32 x 32 (the jet is 1.6 cells wide there) drifts away from it:
the coarse scheme's numerical diffusion and the missing sub-grid eddies.

The closure adds learned tendencies to the coarse model's right-hand side
(``Simulation(config, closure=fn)``): a 3 x 3-stencil convolutional network
written in plain jax.numpy. For each cell it reads the surface anomaly and
velocities (h - 100 m, u, v, scaled by 10 m and 10 m/s) on the cell and its
8 neighbours (27 inputs; the neighbours come from the halo the solver has
already filled, so it works unchanged on any decomposition), passes them
through two tanh layers of 32 units and returns tendencies of h, hu, hv,
scaled by 1e-4 m/s and 1e-3 m^2/s^2 (the size of the coarse model's error
growth). The h tendency has its global mean removed, so the closure
conserves mass. The output layer starts at zero: training starts from the
plain coarse model.

Training is online (through the solver, "solver in the loop"; cf. Um et al.
2020, NeurIPS, and Kochkov et al. 2021, PNAS 118, e2101784118): from
coarsened reference states at random times in the first 2 days, roll the
coarse model with the closure forward 10 steps (a batch of 4 start times,
``jax.vmap``) and penalise the mean squared difference from the coarsened
reference at every step, each field normalised by the plain coarse model's
error, so that the loss is 1 without the closure. The gradient flows back
through the 10 solver steps to the network weights, which are replicated on
all ranks (their gradient is the global one on every rank, so the optax
Adam state needs no communication).

Held out: forecasts started from coarsened reference states in day 2-3 (not
seen in training) are scored against the reference at the training
horizon (10 steps) and at 4x that, with and without the closure, as well as
a free 1-day forecast from day 2.

Success criterion: the closure lowers the held-out forecast error at the
training horizon (``--quick``: the training loss falls). The improvement
can be modest; the printout says what it is.

    python examples/neural_closure.py [--quick]
    mpirun -n 2 python examples/neural_closure.py
"""
from __future__ import annotations

import functools
import math

import _common

DAY = 86400.0
HIDDEN = 32
IN_SCALE = (10.0, 10.0, 10.0)          # h - depth (m), u, v (m/s)
OUT_SCALE = (1.0e-4, 1.0e-3, 1.0e-3)   # tendencies of h (m/s), hu, hv (m^2/s^2)


def parse_args():
    p = _common.ExampleParser("neural_closure", __doc__.split("\n\n")[0])
    p.add_argument("--n", type=_common.positive(int), default=32,
                   help="coarse cells per side; the reference has 4x as many "
                        "(default: %(default)s)")
    p.add_argument("--rollout", type=_common.positive(int), default=10,
                   help="coarse steps per training rollout (default: %(default)s)")
    p.add_argument("--batch", type=_common.positive(int), default=4,
                   help="rollouts per training step (default: %(default)s)")
    p.add_argument("--iterations", type=_common.positive(int), default=200,
                   help="Adam iterations (default: %(default)s)")
    p.add_argument("--lr", type=_common.positive(float), default=3e-3,
                   help="Adam step size (default: %(default)s)")
    p.add_argument("--train-days", type=_common.positive(float), default=2.0,
                   help="training starts are drawn from [0, this) days (default: %(default)s)")
    p.add_argument("--test-days", type=_common.positive(float), default=1.0,
                   help="held-out period after the training period (days) "
                        "(default: %(default)s)")
    args = p.parse_args()
    if args.quick:
        args.n, args.rollout, args.batch, args.iterations = 16, 5, 2, 15
        args.train_days, args.test_days = 0.5, 0.25
    return args


# ------------------------------------------------------------------ network
def init_network(key, jax, jnp):
    """Weights of the 27 -> 32 -> 32 -> 3 network (Glorot-uniform; output layer zero)."""
    sizes = (27, HIDDEN, HIDDEN, 3)
    params = []
    keys = jax.random.split(key, len(sizes) - 1)
    for k, (fan_in, fan_out) in zip(keys, zip(sizes[:-1], sizes[1:])):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        w = jax.random.uniform(k, (fan_in, fan_out), jnp.float64, -limit, limit)
        params.append({"w": w, "b": jnp.zeros(fan_out, jnp.float64)})
    params[-1]["w"] = jnp.zeros_like(params[-1]["w"])
    return params


class Closure:
    """The closure hook: ``(weights, padded state, local grid) -> interior tendencies``.

    ``global_sum`` (the simulation's, set after it is built) removes the
    global mean of the h tendency, so that the closure conserves mass.
    """

    def __init__(self, depth: float):
        self.depth = depth
        self.global_sum = None
        self.n_cells = None

    def __call__(self, weights, padded, grid):
        import jax.numpy as jnp

        from dycore.state import State

        H = grid.halo
        ny, nx = padded.h.shape[-2] - 2 * H, padded.h.shape[-1] - 2 * H
        h = padded.h
        fields = ((h - self.depth) / IN_SCALE[0], padded.hu / h / IN_SCALE[1],
                  padded.hv / h / IN_SCALE[2])
        # The 3 x 3 neighbourhood of every interior cell: (ny, nx, 27).
        z = jnp.stack([q[H + dj:H + dj + ny, H + di:H + di + nx]
                       for q in fields for dj in (-1, 0, 1) for di in (-1, 0, 1)], axis=-1)
        for layer in weights[:-1]:
            z = jnp.tanh(z @ layer["w"] + layer["b"])
        out = z @ weights[-1]["w"] + weights[-1]["b"]
        dh = OUT_SCALE[0] * out[..., 0]
        dh = dh - self.global_sum(dh) / self.n_cells
        return State(dh, OUT_SCALE[1] * out[..., 1], OUT_SCALE[2] * out[..., 2])


def main():
    args = parse_args()
    _common.require_extras()
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from jax import lax

    from dycore import Config, Simulation, runtime
    runtime.configure()  # float64, bit-for-bit XLA:CPU setting
    from dycore.state import State

    n_fine, factor = 4 * args.n, 4
    dt_coarse = 320.0 * 32 / args.n
    fine = Simulation(Config(case="unstable_jet", nx=n_fine, ny=n_fine, dt=dt_coarse / factor))
    closure = Closure(fine.config.case_params["depth"])
    coarse = Simulation(Config(case="unstable_jet", nx=args.n, ny=args.n, dt=dt_coarse),
                        closure=closure)
    closure.global_sum, closure.n_cells = coarse.global_sum, coarse.grid.n_cells
    report = _common.Reporter(coarse)
    steps_per_day = DAY / dt_coarse
    n_train = int(round(args.train_days * steps_per_day))
    n_test = int(round(args.test_days * steps_per_day))
    n_snap = n_train + n_test + 1

    # ---------------------------------------------------- reference (fine run)
    report(f"neural closure: reference {n_fine}x{n_fine}, coarse {args.n}x{args.n} cells, "
           f"dt {dt_coarse:.0f} s, on {coarse.context.size} rank(s); "
           f"{args.train_days:g} days for training, {args.test_days:g} held out")
    run_fine = jax.jit(lambda s: fine.run(s, factor, fine.params))
    state = fine.initial_state()
    snaps = []
    for k in range(n_snap):
        full = fine.gather(state)
        if fine.context.is_root:
            snaps.append(np.stack([full[q].reshape(args.n, factor, args.n, factor).mean(axis=(1, 3))
                                   for q in ("h", "hu", "hv")]))
        if k < n_snap - 1:
            state = run_fine(state)
    reference = coarse.context.scatter(np.stack(snaps) if coarse.context.is_root else None)
    reference = jnp.asarray(reference)              # (n_snap, 3, ny_tile, nx_tile)
    report(f"  reference: {n_snap - 1} coarse steps ({(n_snap - 1) / steps_per_day:.2f} days) "
           f"[{report.elapsed():.0f} s]")

    def stacked(s):
        return jnp.stack([s.h, s.hu, s.hv])

    def as_state(x):
        return State(x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :])

    def rollout(x0, weights, n_steps):
        """States after 1..n_steps coarse steps from x0: (n_steps, 3, ny, nx)."""
        params = coarse.params.replace(closure=weights)

        return coarse.trajectory(as_state(x0), params, n_steps, 1, post_process=stacked)[1]

    def cell_mse(pred, target):
        """Mean squared error over all cells of all ranks: (..., 3, ny, nx) -> (..., 3)."""
        lead = pred.shape[:-2]
        d = ((pred - target) ** 2).reshape((-1,) + pred.shape[-2:])
        return jax.vmap(coarse.global_sum)(d).reshape(lead) / coarse.grid.n_cells

    zero = jax.tree.map(jnp.zeros_like, init_network(jax.random.PRNGKey(args.seed), jax, jnp))

    def batch_mse(weights, starts, n_steps):
        """Per-field MSE of rollouts from reference[starts], over starts and steps: (3,)."""
        target = jnp.stack([reference[starts + 1 + k] for k in range(n_steps)], axis=1)
        pred = jax.vmap(lambda x: rollout(x, weights, n_steps))(reference[starts])
        return jnp.mean(cell_mse(pred, target), axis=(0, 1))

    R = args.rollout
    train_starts = np.arange(0, n_train - R)
    # Error scales: the plain coarse model's rollout error over the training period.
    probe = train_starts[:: max(1, len(train_starts) // 16)]
    scale = jax.jit(lambda s: batch_mse(zero, s, R))(jnp.asarray(probe))

    def loss(weights, starts):
        return jnp.mean(batch_mse(weights, starts, R) / scale)

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    optimiser = optax.adam(optax.cosine_decay_schedule(args.lr, args.iterations, alpha=0.1))
    update = jax.jit(optimiser.update)
    weights = init_network(jax.random.PRNGKey(args.seed), jax, jnp)
    opt_state = optimiser.init(weights)
    rng = np.random.default_rng(args.seed)          # same draws on every rank
    history = []
    for it in range(args.iterations):
        starts = jnp.asarray(rng.choice(train_starts, size=args.batch, replace=False))
        value, grads = value_and_grad(weights, starts)
        history.append(float(value))
        if it % max(1, args.iterations // 10) == 0 or it == args.iterations - 1:
            recent = np.mean(history[-max(1, args.iterations // 10):])
            report(f"  iter {it:4d}  loss {history[-1]:.4f} (recent mean {recent:.4f})  "
                   f"[{report.elapsed():.0f} s]")
        updates, opt_state = update(grads, opt_state, weights)
        weights = optax.apply_updates(weights, updates)

    # ------------------------------------------------------------ held out
    long = 4 * R
    test_starts = np.arange(n_train, n_train + n_test - long, max(1, R // 2))
    if len(test_starts) == 0:
        _common.fail("held-out period too short for the forecasts; raise --test-days")

    @functools.partial(jax.jit, static_argnums=2)
    def lead_errors(w, start, n_steps):
        """MSE per lead time and field of a forecast from reference[start]: (n_steps, 3)."""
        pred = rollout(reference[start], w, n_steps)
        target = lax.dynamic_slice_in_dim(reference, start + 1, n_steps, axis=0)
        return cell_mse(pred, target)

    results, free = {}, {}
    for name, w in (("no closure", zero), ("closure", weights)):
        mse = np.mean([np.asarray(lead_errors(w, int(s), long)) for s in test_starts], axis=0)
        results[name] = np.sqrt(mse)                        # RMS per lead time and field
        # A free forecast over the whole held-out period, from its start.
        free[name] = np.sqrt(np.asarray(lead_errors(w, n_train, n_test)))

    names = ("h (m)", "hu (m^2/s)", "hv (m^2/s)")
    report(f"training loss (1 = plain coarse model): first {np.mean(history[:5]):.4f}, "
           f"last {np.mean(history[-5:]):.4f}",
           f"held-out forecasts ({len(test_starts)} starts in days "
           f"{args.train_days:g}-{args.train_days + args.test_days:g}), RMS error "
           "against the coarsened reference:")
    for lead in (R, long):
        for name in ("no closure", "closure"):
            e = results[name][lead - 1]
            report(f"  {lead:3d} steps ({lead * dt_coarse / 3600:4.1f} h)  {name:10s}  "
                   + "  ".join(f"{n} {v:8.4g}" for n, v in zip(names, e)))
    for name in ("no closure", "closure"):
        e = free[name][-1]
        report(f"  free forecast, {args.test_days:g} days  {name:10s}  "
               + "  ".join(f"{n} {v:8.4g}" for n, v in zip(names, e)))

    def normalised(e, lead):
        return float(np.mean(e[lead - 1] ** 2 / results["no closure"][lead - 1] ** 2))

    ratio = normalised(results["closure"], R)
    ratio_long = normalised(results["closure"], long)
    report(f"held-out error with/without closure (mean over fields of the MSE ratio): "
           f"{ratio:.3f} at {R} steps, {ratio_long:.3f} at {long} steps")
    if coarse.context.is_root:
        plot(args.output, history, results, free, R, dt_coarse, report)
    if args.quick:
        ok = np.mean(history[-3:]) < np.mean(history[:3])
        why = "the training loss did not fall"
    else:
        ok = ratio < 1.0
        why = f"held-out error ratio {ratio:.3f} at the training horizon (need < 1)"
    _common.finish(coarse, report, bool(ok), why)


def plot(path, history, results, free, R, dt, report):
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(1, 4, figsize=(18, 4.2))
    ax[0].plot(history, lw=0.8)
    ax[0].axhline(1.0, color="k", ls="--", lw=0.8)
    ax[0].set(xlabel="Adam iteration", ylabel="loss (1 = no closure)",
              title="training loss (batches of rollouts)")
    names = ("h (m)", "hu (m$^2$/s)", "hv (m$^2$/s)")
    lead_h = np.arange(1, results["closure"].shape[0] + 1) * dt / 3600
    for k in range(3):
        for name, style in (("no closure", "--"), ("closure", "-")):
            ax[1 + k].plot(lead_h, results[name][:, k], style, label=name)
        ax[1 + k].axvline(R * dt / 3600, color="0.6", lw=0.8)
        ax[1 + k].set(xlabel="lead time (h)", title=f"held-out RMS error, {names[k]}")
        ax[1 + k].legend()
    fig.suptitle("Neural closure trained through the solver: coarse (32$^2$) vs coarsened "
                 "128$^2$ reference; grey line: training horizon")
    fig.tight_layout()
    _common.save_figure(fig, path, report)


if __name__ == "__main__":
    main()
