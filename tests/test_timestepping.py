"""The SSP-RK steppers as one lax.scan over stages (dycore.timestepping):
the same bits as the stages written out, the stage times of the Butcher
tableaux, and the order of accuracy on an ODE with a known solution."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dycore.timestepping import SSP_RK2, SSP_RK3, advance_stages, ssp_rk2, ssp_rk3


def rhs(y):
    """dy/dt = -y^2 + sin(y): nonlinear, so stage mix-ups show."""
    return {"y": -y["y"] ** 2 + jnp.sin(y["y"])}


def written_out_rk3(y, dt):
    """Shu & Osher's SSP-RK3 stage by stage, as in their paper."""
    f = lambda q: rhs({"y": q})["y"]  # noqa: E731
    u = y["y"]
    u1 = u + dt * f(u)
    u2 = 0.75 * u + 0.25 * (u1 + dt * f(u1))
    return {"y": u + (2.0 / 3.0) * (u2 + dt * f(u2) - u)}


def written_out_rk2(y, dt):
    f = lambda q: rhs({"y": q})["y"]  # noqa: E731
    u = y["y"]
    u1 = u + dt * f(u)
    return {"y": 0.5 * u + 0.5 * (u1 + dt * f(u1))}


@pytest.mark.parametrize("stepper, reference", [(ssp_rk3, written_out_rk3),
                                                (ssp_rk2, written_out_rk2)])
def test_scanned_stages_equal_the_written_out_stages_bit_for_bit(stepper, reference):
    y = {"y": jnp.linspace(0.1, 2.0, 257)}
    dt = 0.0123
    got = jax.jit(lambda y: stepper(rhs, y, dt))(y)["y"]
    want = jax.jit(lambda y: reference(y, dt))(y)["y"]
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("scheme, expected", [(SSP_RK2, (0.0, 1.0)), (SSP_RK3, (0.0, 1.0, 0.5))])
def test_rhs_sees_each_stage_time(scheme, expected):
    """y' = g(t) with y(0) = 0: the step integrates g by the scheme's quadrature
    rule, whose nodes are the stage times; g = t^2 is integrated exactly by
    RK3's nodes (0, 1, 1/2) and weights (1/6, 1/6, 2/3) and g = t by RK2's."""
    dt = 0.5
    power = scheme.stages - 1
    y = advance_stages(scheme, lambda s, c: {"y": (c * dt) ** power + 0.0 * s["y"]},
                       {"y": jnp.zeros(())}, dt)
    assert float(y["y"]) == pytest.approx(dt ** (power + 1) / (power + 1), rel=1e-14)
    assert scheme.fractions == expected


@pytest.mark.parametrize("stepper, order", [(ssp_rk2, 2), (ssp_rk3, 3)])
def test_order_of_accuracy_on_logistic_growth(stepper, order):
    """y' = y (1 - y), y(0) = 0.1: y(t) = 1 / (1 + 9 e^-t); the error at
    t = 1 falls like dt^order."""
    logistic = lambda s: {"y": s["y"] * (1.0 - s["y"])}  # noqa: E731
    exact = 1.0 / (1.0 + 9.0 * np.exp(-1.0))
    errors = []
    for n in (20, 40):
        dt = 1.0 / n
        step = jax.jit(lambda s: stepper(logistic, s, dt))
        s = {"y": jnp.asarray(0.1)}
        for _ in range(n):
            s = step(s)
        errors.append(abs(float(s["y"]) - exact))
    assert np.log2(errors[0] / errors[1]) == pytest.approx(order, abs=0.15)


def test_gradient_through_the_stage_scan_matches_finite_differences():
    f = lambda y0: ssp_rk3(rhs, {"y": y0}, 0.1)["y"]  # noqa: E731
    y0, eps = 0.7, 1e-6
    fd = (f(y0 + eps) - f(y0 - eps)) / (2 * eps)
    assert float(jax.grad(f)(y0)) == pytest.approx(float(fd), rel=1e-8)
