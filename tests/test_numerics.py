"""Numerics off the beaten path (issue 16): unbiased mass with SSP-RK3 over
many steps, WENO5-Z positivity at a moving shoreline, the order of the
schemes on a 2-D nonlinear steady vortex, thin layers at wet/dry fronts.
Larger grids and the full table: ``python -m benchmarks.verification``."""
import math

import numpy as np
import pytest

from dycore import Config, Simulation


def _mass(state):
    return math.fsum(np.asarray(state.h, dtype=np.float64).ravel().tolist())


@pytest.mark.parametrize("stepper", ["ssp_rk3", "ssp_rk2"])
@pytest.mark.parametrize("config", [
    pytest.param(dict(case="unstable_jet", nx=16, ny=16), id="jet-16x16"),
    pytest.param(dict(case="inertia_gravity_wave", nx=16, ny=14), id="igw-16x14"),
])
def test_mass_unbiased_over_ten_thousand_steps(config, stepper):
    """10^4 steps: the relative mass drift stays at the level of a random
    walk of round-off (~1e-16 sqrt(steps)), not a bias of ~6e-17 per step
    (before issue 16, SSP-RK3 drifted by -6.0e-13 and -2.6e-13 here)."""
    sim = Simulation(Config(time_stepper=stepper, **config))
    start = sim.initial_state()
    end = sim.run(start, 10_000)
    drift = (_mass(end) - _mass(start)) / _mass(start)
    print(f"\n{config['case']} {stepper}: relative mass drift after 1e4 steps {drift:.3e}")
    assert abs(drift) < 5e-15


def _thacker(n, **config):
    sim = Simulation(Config(case="thacker_planar", nx=n, ny=n, **config))
    state, t, steps, fault = sim.advance(sim.initial_state(), 0.0, sim.config.t_end, report=True)
    return sim, state, t, steps, fault


@pytest.mark.parametrize("n,config", [
    pytest.param(24, {}, id="n24"),
    pytest.param(32, {"riemann": "rusanov", "cfl": 0.2}, id="n32-rusanov-cfl0.2"),
])
def test_weno_keeps_depth_non_negative_at_moving_shoreline(n, config):
    """Planar Thacker paraboloid, one period with WENO5-Z: before issue 16 a
    cell went negative (h < -dry_tolerance) at step 51 (n = 24) and 45
    (n = 32, HLLC; at step 230 with Rusanov and CFL 0.2); with the positivity limiter on the face depths the run
    completes with h >= 0 everywhere and tracks the exact solution."""
    sim, state, t, steps, fault = _thacker(n, scheme="weno5z", **config)
    assert fault is None, (steps, fault)
    assert t == pytest.approx(sim.config.t_end)
    assert float(np.min(np.asarray(state.h))) >= 0.0
    from dycore.diagnostics import l1_error
    err = l1_error(state.h, sim.exact_state(t).h, sim.grid.cell_area)
    volume = math.fsum(np.asarray(sim.exact_state(t).h).ravel().tolist()) * sim.grid.cell_area
    print(f"\nThacker n={n} {config}: {steps} steps, L1(h) {err:.3e} m^3 of {volume:.3e}")
    assert err < 0.4 * volume   # MUSCL-MC: 0.23 of the volume at n = 24


def test_positivity_limiter_unchanged_when_inactive_and_positive_when_active():
    import jax.numpy as jnp

    from dycore.equations.shallow_water import POSITIVITY_WEIGHT, positivity_limited
    w = POSITIVITY_WEIGHT
    mean = jnp.array([100.0, 1e-6, 1e-6, 0.0, 2.0])
    minus = jnp.array([99.0, -3e-6, 4e-6, 0.0, 1.5])
    plus = jnp.array([101.5, 2e-6, 1e-5, 0.0, 2.5])
    lo, hi = positivity_limited(mean, minus, plus)
    lo, hi = np.asarray(lo), np.asarray(hi)
    assert lo[0] == 99.0 and hi[0] == 101.5            # wet and smooth: untouched, bit for bit
    assert lo[4] == 1.5 and hi[4] == 2.5
    assert np.all(lo >= 0) and np.all(hi >= 0)
    assert np.all(np.asarray(mean) - w * (lo + hi) >= -1e-22)
    assert lo[3] == 0.0 and hi[3] == 0.0


def _vortex_l1(scheme, n):
    from dycore.diagnostics import error_norms
    sim = Simulation(Config(case="gaussian_vortex", nx=n, ny=n, scheme=scheme))
    state, t, _ = sim.advance(sim.initial_state(), 0.0, sim.config.t_end)
    return error_norms(state.h, sim.exact_state(t).h,
                       background=sim.config.case_params["depth"]).l1


def test_order_on_nonlinear_steady_vortex():
    """Steady gradient-wind vortex (6 h): both schemes converge in l1 of h
    at least at second order between 32^2, 64^2 (and 128^2 for WENO5-Z),
    and WENO5-Z is far more accurate; measured: MUSCL-MC 2.35, WENO5-Z 3.41
    then 2.02 (docs/numerics.md, Order in 2-D)."""
    from dycore.diagnostics import observed_orders
    ns = {"muscl": [32, 64], "weno5z": [32, 64, 128]}
    errors = {scheme: [_vortex_l1(scheme, n) for n in nxs] for scheme, nxs in ns.items()}
    orders = {scheme: observed_orders(errors[scheme], ns[scheme]) for scheme in ns}
    print(f"\nvortex l1 {errors}, orders {orders}")
    assert min(orders["muscl"]) >= 1.8
    assert min(orders["weno5z"]) >= 1.8
    assert errors["weno5z"][1] < 0.1 * errors["muscl"][1]


def test_weno_is_second_order_in_space_on_2d_nonlinear_flux():
    """What the dimension-by-dimension WENO5-Z has on a 2-D nonlinear problem:
    the tendency of the exact steady vortex (its truncation error; the exact
    tendency is 0) falls at second order from 64^2 to 256^2 (measured 2.20,
    2.01), because each face flux is the flux of the face-centre value, a
    second-order approximation of the face-averaged flux when the flux is
    nonlinear (Zhang, Zhang & Shu 2011). On the linear inertia-gravity wave
    the same scheme shows its high order (tests/test_convergence.py). A
    genuinely high-order face quadrature would raise this: then update
    docs/numerics.md and this test."""
    from dycore.diagnostics import observed_orders
    ns = [64, 128, 256]
    residuals = []
    for n in ns:
        sim = Simulation(Config(case="gaussian_vortex", nx=n, ny=n, scheme="weno5z"))
        residuals.append(float(np.mean(np.abs(np.asarray(sim.rhs(sim.initial_state(), sim.params).h)))))
    orders = observed_orders(residuals, ns)
    print(f"\nvortex |dh/dt| of the exact state {residuals}, orders {orders}")
    assert all(1.8 <= p <= 2.5 for p in orders)


def _thacker_steps(n, scheme, project):
    """One period of the Thacker bowl stepped through public APIs, with or
    without the thin-layer projection after every stage: (steps, state, t)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    sim = Simulation(Config(case="thacker_planar", nx=n, ny=n, scheme=scheme))
    params = sim.params
    b_padded = sim.pad_bed(params)
    t_end = sim.config.t_end
    projection = ((lambda s: sim.model.thin_layer_projection(s, b_padded)) if project else None)

    def body(carry):
        s, t, n_steps = carry
        dt = jnp.minimum(sim.time_step(s, params), t_end - t)
        s = sim.time_stepper(lambda q: sim.rhs(q, params, b_padded), s, dt, project=projection)
        return s, t + dt, n_steps + 1

    run = jax.jit(lambda s: lax.while_loop(lambda c: c[1] < t_end * (1 - 1e-14), body,
                                           (s, jnp.float64(0.0), 0)))
    state, t, steps = run(sim.initial_state())
    return sim, int(steps), state, float(t)


def test_thin_layer_projection_removes_fast_films():
    """Thacker bowl, MUSCL, n = 50: films left on the slopes slide at up to
    several times the exact 0.70 m/s and set the CFL step; with the
    Kurganov-Petrova projection of thin layers the run takes fewer steps,
    no film is faster than the invariant-region bound 2.7 m/s, the depth
    stays >= 0 and the error does not grow (measured: 419 -> 356 steps)."""
    from dycore.diagnostics import l1_error
    results = {}
    for project in (False, True):
        sim, steps, state, t = _thacker_steps(50, "muscl", project)
        h = np.asarray(state.h)
        wet = h > sim.config.dry_tolerance
        speed = np.where(wet, np.hypot(np.asarray(state.hu), np.asarray(state.hv))
                         / np.where(wet, h, 1.0), 0.0)
        err = l1_error(h, sim.exact_state(t).h, sim.grid.cell_area)
        results[project] = (steps, float(speed.max()), err, float(h.min()))
    print(f"\nThacker n=50 MUSCL (steps, final max speed, L1, min h): plain {results[False]}, "
          f"projected {results[True]}")
    assert results[True][0] < 0.9 * results[False][0]
    assert results[True][1] < 2.7
    assert results[True][2] < 1.05 * results[False][2]
    assert results[True][3] >= 0.0


def test_thin_layer_projection_leaves_wet_and_flat_states_alone():
    sim = Simulation(Config(case="gaussian_vortex", nx=16, ny=16))
    state = sim.initial_state()
    out = sim.model.thin_layer_projection(state, sim.pad_bed(sim.params))
    for a, b in zip((state.h, state.hu, state.hv), (out.h, out.hu, out.hv)):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_gradients_finite_through_limiter_and_projection():
    """jax.grad through WENO5-Z steps at a moving shoreline (positivity
    limiter active) and through the thin-layer projection stays finite."""
    import jax
    import jax.numpy as jnp

    sim = Simulation(Config(case="thacker_planar", nx=16, ny=16, scheme="weno5z"))
    b_padded = sim.pad_bed(sim.params)

    def loss(state):
        state = sim.run(state, 5)
        projected = sim.model.thin_layer_projection(state, b_padded)
        return jnp.sum(projected.h ** 2) + jnp.sum(projected.hu ** 2)

    grad = jax.grad(loss)(sim.initial_state())
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(grad))
