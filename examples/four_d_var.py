"""Strong-constraint 4D-Var: recover the initial state of a barotropically
unstable jet from sparse, noisy surface-height observations over a window.

Setup (SI units). The background x_b is the ``unstable_jet`` case's initial
state (a balanced Bickley jet, periodic in x, walls in y, with its seed
bump). The truth is a draw from the background-error distribution,
x_t = x_b + L xi with xi white noise, so the background error x_t - x_b has
covariance B = L L^T. The truth is run through the window; the surface
height h + b (here b = 0, so h) is observed at a random 10 % of the cells
every few steps, with Gaussian noise of standard deviation sigma_o.

B = L L^T models correlated errors in h (m), u and v (m/s): L = S D^k, with
S the error standard deviations and D one explicit diffusion step
q <- q + alpha (q_E + q_W + q_N + q_S - 4 q) applied k times (a Gaussian
correlation of length sqrt(4 alpha k) = 2.4 cells), normalised to unit variance
away from the walls: the diffusion-operator correlation model of Weaver &
Courtier (2001), Q. J. R. Meteorol. Soc. 127, 1815-1846. The neighbours come
from the solver's own halo filler, so L works on any decomposition and its
adjoint is an adjoint halo exchange.

The control variable is v with x_0 = x_b + L v (the usual preconditioning,
Courtier et al. 1994, Q. J. R. Meteorol. Soc. 120, 1367-1387), and the cost
is

    J(v) = 1/2 |v|^2 + 1/2 sum_k sum_obs (h_k(x_0) - y_k)^2 / sigma_o^2

with h_k the model's surface height at observation time k (a strong
constraint: the model is taken as perfect). v is a distributed field (a
tile per rank); J is summed over ranks with ``sim.global_sum``. It is
minimised with optax's Adam, whose update is elementwise, so the
optimisation is the same on any number of ranks. The analysis x_a = x_b +
L v_a is compared with the truth: RMS errors of h, u, v at the start and at
the end of the window, against those of the background.

Success criterion: the analysis error of h is below the background error at
both the start and the end of the window (by at least 30 %; ``--quick``:
any reduction), and the cost falls.

    python examples/four_d_var.py [--quick]
    mpirun -n 2 python examples/four_d_var.py
"""
from __future__ import annotations

import math

import _common

SIGMA_H, SIGMA_U = 2.0, 1.0          # background error standard deviations (m, m/s)
# Diffusion step and count of L: alpha = 1/8 damps the grid-scale checkerboard
# completely (amplification 1 - 8 alpha); 12 steps give a Gaussian kernel of
# standard deviation sqrt(2 alpha k) = 1.7 cells.
ALPHA, SMOOTHING = 0.125, 12


def parse_args():
    p = _common.ExampleParser("four_d_var", __doc__.split("\n\n")[0])
    p.add_argument("--n", type=_common.positive(int), default=32,
                   help="cells per side of the square grid (default: %(default)s)")
    p.add_window(steps=48, obs_every=6)
    p.add_argument("--obs-fraction", type=_common.positive(float), default=0.1,
                   help="fraction of the cells observed (default: %(default)s)")
    p.add_argument("--sigma-obs", type=_common.positive(float), default=0.1,
                   help="observation noise standard deviation (m) (default: %(default)s)")
    p.add_argument("--iterations", type=_common.positive(int), default=200,
                   help="Adam iterations (default: %(default)s)")
    p.add_argument("--lr", type=_common.positive(float), default=0.1,
                   help="Adam step size in the whitened control (default: %(default)s)")
    args = p.parse_args()
    if args.quick:
        args.n, args.steps, args.obs_every, args.iterations = 16, 12, 4, 30
    p.check_window(args)
    if args.obs_fraction > 1:
        p.error(f"--obs-fraction must be in (0, 1], got {args.obs_fraction}")
    return args


def unit_variance_factor(alpha: float, k: int) -> float:
    """1 / RMS of D^k applied to white noise, away from boundaries: 1/|D^k delta|_2."""
    import numpy as np

    n = 4 * k + 3
    q = np.zeros((n, n))
    q[n // 2, n // 2] = 1.0
    for _ in range(k):
        q = q + alpha * (np.roll(q, 1, 0) + np.roll(q, -1, 0) + np.roll(q, 1, 1)
                         + np.roll(q, -1, 1) - 4 * q)
    return 1.0 / math.sqrt(float(np.sum(q * q)))


def main():
    args = parse_args()
    _common.require_extras()
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from dycore import Config, Simulation, runtime
    runtime.configure()  # float64, bit-for-bit XLA:CPU setting
    from dycore.equations.shallow_water import FIELDS
    from dycore.state import State

    n_windows = args.steps // args.obs_every
    # A jet twice the default width, so that 32 cells resolve it (3 cells);
    # dt fixed (s), about CFL 0.35.
    cfg = Config(case="unstable_jet", nx=args.n, ny=args.n, dt=250.0 * 32 / args.n,
                 case_params={"width": 2.0e5})
    sim = Simulation(cfg)
    report = _common.Reporter(sim)
    grid = sim.grid
    tile = sim.tile
    background = sim.initial_state()
    h_b = background.h
    u_b, v_b = background.hu / h_b, background.hv / h_b
    norm = unit_variance_factor(ALPHA, SMOOTHING)
    kinds = FIELDS  # h, u, v transform like h, hu, hv (a scalar and a vector)
    sigmas = (SIGMA_H, SIGMA_U, SIGMA_U)

    def correlate(v):
        """L v: (h, u, v) perturbations (m, m/s) from whitened fields (a tuple of 3)."""
        fields = tuple(v)
        for _ in range(SMOOTHING):
            padded = sim.fill(fields, kinds)
            H = sim.halo
            fields = tuple(
                q + ALPHA * (p[H:-H, H + 1:p.shape[1] - H + 1] + p[H:-H, H - 1:-H - 1]
                             + p[H + 1:p.shape[0] - H + 1, H:-H] + p[H - 1:-H - 1, H:-H]
                             - 4 * q)
                for q, p in zip(fields, padded))
        return tuple(s * norm * q for s, q in zip(sigmas, fields))

    def initial(v):
        dh, du, dv = correlate(v)
        h = h_b + dh
        return State(h, h * (u_b + du), h * (v_b + dv))

    def surface_depth(s):
        return s.h

    def observe(state0):
        """Surface height (m) at the observation times: (n_windows, ny_tile, nx_tile)."""
        final, hs = sim.trajectory(state0, sim.params, n_windows, args.obs_every,
                                   post_process=surface_depth, checkpoint="step")
        return hs, final

    # Truth, observation network and noise: global random fields, this rank's
    # window of them, so the experiment is the same on any number of ranks.
    rng = np.random.default_rng(args.seed)
    xi = tuple(jnp.asarray(tile.take(rng.standard_normal((grid.ny, grid.nx))))
               for _ in range(3))
    mask = tile.take(rng.random((n_windows, grid.ny, grid.nx)) < args.obs_fraction)
    noise = tile.take(rng.standard_normal((n_windows, grid.ny, grid.nx))) * args.sigma_obs
    mask = jnp.asarray(mask, dtype=h_b.dtype)
    truth0 = jax.jit(initial)(xi)
    truth_hs, truth_end = jax.jit(observe)(truth0)
    y = truth_hs + jnp.asarray(noise)
    n_obs = int(round(float(sim.global_sum(mask))))

    def cost(v):
        hs, _ = observe(initial(v))
        j_b = 0.5 * sum(sim.global_sum(q * q) for q in v)
        j_o = 0.5 * sim.global_sum(mask * (hs - y) ** 2) / args.sigma_obs ** 2
        return j_b + j_o

    value_and_grad = jax.jit(jax.value_and_grad(cost))
    optimiser = optax.adam(optax.cosine_decay_schedule(args.lr, args.iterations, alpha=0.05))
    update = jax.jit(optimiser.update)
    v = tuple(jnp.zeros_like(h_b) for _ in range(3))
    opt_state = optimiser.init(v)

    report(f"4D-Var: {args.n}x{args.n} cells on {sim.context.size} rank(s), window of "
           f"{args.steps} steps of {cfg.dt:.0f} s ({args.steps * cfg.dt / 3600:.1f} h), "
           f"h observed at {n_obs} cell-times ({args.obs_fraction:.0%} of the cells every "
           f"{args.obs_every} steps, noise {args.sigma_obs} m); background errors "
           f"{SIGMA_H} m (h), {SIGMA_U} m/s (u, v); {args.iterations} Adam iterations")
    history = []
    for it in range(args.iterations + 1):
        value, grads = value_and_grad(v)
        history.append(float(value))
        if it % max(1, args.iterations // 10) == 0:
            report(f"  iter {it:4d}  J {history[-1]:.5e}  [{report.elapsed():.0f} s]")
        if it == args.iterations:
            break
        updates, opt_state = update(grads, opt_state, v)
        v = optax.apply_updates(v, updates)

    analysis0 = jax.jit(initial)(v)
    run_window = jax.jit(lambda s: sim.run(s, args.steps, sim.params))
    analysis_end = run_window(analysis0)
    background_end = run_window(background)

    def rms_errors(state, truth):
        """RMS errors of h (m), u and v (m/s) over the global grid."""
        out = []
        for name in ("h", "u", "v"):
            def field(s):
                return s.h if name == "h" else (s.hu if name == "u" else s.hv) / s.h
            d = field(state) - field(truth)
            out.append(math.sqrt(float(sim.global_sum(d * d)) / grid.n_cells))
        return out

    errors = {"background": (rms_errors(background, truth0), rms_errors(background_end, truth_end)),
              "analysis": (rms_errors(analysis0, truth0), rms_errors(analysis_end, truth_end))}
    report(f"cost J: {history[0]:.4e} -> {history[-1]:.4e} "
           f"(J_o expected near n_obs/2 = {n_obs / 2:.0f} at the optimum)",
           "RMS error against the truth      h (m)     u (m/s)   v (m/s)")
    for when, k in (("start of window", 0), ("end of window  ", 1)):
        for kind in ("background", "analysis"):
            e = errors[kind][k]
            report(f"  {when}  {kind:10s}  {e[0]:8.4f}  {e[1]:8.4f}  {e[2]:8.4f}")
    ratio0 = errors["analysis"][0][0] / errors["background"][0][0]
    ratio1 = errors["analysis"][1][0] / errors["background"][1][0]
    report(f"analysis/background error of h: {ratio0:.3f} at the start, "
           f"{ratio1:.3f} at the end of the window")

    fields = {"truth": truth0.h, "background": background.h, "analysis": analysis0.h}
    gathered = {k: _common.gather_field(sim, f) for k, f in fields.items()}
    obs_mask = _common.gather_field(sim, mask[0])
    if sim.context.is_root:
        plot(args.output, history, gathered, obs_mask, errors, sim, report)
    need = 1.0 if args.quick else 0.7
    ok = ratio0 < need and ratio1 < need and history[-1] < history[0]
    _common.finish(sim, report, ok,
                   f"analysis/background error of h {ratio0:.3f} (start), {ratio1:.3f} (end); "
                   f"need < {need}")


def plot(path, history, fields, obs_mask, errors, sim, report):
    import matplotlib.pyplot as plt
    import numpy as np

    grid = sim.grid
    x, y = grid.x_centres() / 1e3, grid.y_centres() / 1e3
    fig, ax = plt.subplots(1, 4, figsize=(19, 4.6))
    ax[0].semilogy(history)
    ax[0].set(xlabel="Adam iteration", ylabel="J", title="4D-Var cost")
    truth = fields["truth"]
    lim = float(np.max(np.abs(fields["background"] - truth)))
    for a, key in zip(ax[1:3], ("background", "analysis")):
        im = a.pcolormesh(x, y, fields[key] - truth, shading="auto", cmap="RdBu_r",
                          vmin=-lim, vmax=lim)
        a.set(xlabel="x (km)", aspect="equal",
              title=f"{key} $-$ truth, h at t = 0\n(RMS {errors[key][0][0]:.2f} m)")
    jj, ii = np.nonzero(obs_mask)
    ax[1].plot(x[ii], y[jj], "k.", ms=2, label="observed cells (first time)")
    ax[1].legend(loc="lower left", fontsize=7)
    ax[1].set(ylabel="y (km)")
    fig.colorbar(im, ax=ax[1:3], label="h error (m)", shrink=0.85)
    labels = ["h (m)", "u (m/s)", "v (m/s)"]
    width = 0.2
    for k, (kind, when) in enumerate((("background", 0), ("analysis", 0),
                                      ("background", 1), ("analysis", 1))):
        e = errors[kind][when]
        ax[3].bar(np.arange(3) + (k - 1.5) * width, e, width,
                  label=f"{kind}, {'start' if when == 0 else 'end'}",
                  color=("0.6" if kind == "background" else "C0"),
                  hatch=("" if when == 0 else "//"), edgecolor="k")
    ax[3].set_xticks(range(3), labels)
    ax[3].set(title="RMS error against the truth")
    ax[3].legend(fontsize=7)
    fig.suptitle("Strong-constraint 4D-Var on an unstable jet")
    _common.save_figure(fig, path, report)


if __name__ == "__main__":
    main()
