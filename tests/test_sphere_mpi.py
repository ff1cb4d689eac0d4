"""The cubed sphere on 6 P^2 MPI ranks against one process: fields bit for
bit (with the passive tracer and the CFL step's global max), exactly rounded
mass and tracer mass equal, and gradients through the halo messages across
panel edges and ranks (the N-rank gradient equal to the one-rank gradient to
1e-12 relative, Taylor test rate >= 1.95, forward/reverse dot-product test
below 1e-12).

Two ways in:

- under ``mpirun -n 6`` or ``-n 24`` (``--with-mpi -m mpi``),
  :func:`test_ranks_equal_one_process` runs the checks on that
  communicator (skipped on other sizes);
- :func:`test_six_ranks_in_a_subprocess` (serial suite, opt-in with
  ``DYCORE_SLOW_TESTS=1``: its compile takes tens of minutes on 6 ranks
  oversubscribed on 2 cores) launches ``mpirun -n 6`` on this file
  (``python tests/test_sphere_mpi.py``), whatever size the MPI suite gets;
- bad rank counts: a one-line error naming the valid counts near it.
"""
from __future__ import annotations

import math
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
N = 4            # C4: 4 x 4 cells per face (2 x 2 per tile on 24 ranks)
STEPS = 2


def check_ranks(comm) -> list[str]:
    """Run the checks on ``comm`` (6 P^2 ranks); the failures, on every rank."""
    import jax
    import jax.numpy as jnp
    from mpi4py import MPI

    from dycore.sphere import SphereModel

    failures = []
    kwargs = dict(case="williamson2", alpha=math.pi / 4, tracer=True)
    model = SphereModel(N, comm=comm, **kwargs)
    serial = SphereModel(N, comm=MPI.COMM_SELF, **kwargs) if comm.Get_rank() == 0 else None
    s0 = model.initial_state()
    s = model.run(s0, STEPS)
    names = ("h", "mx", "my", "mz", "hq")
    got = {k: model.gather(np.asarray(getattr(s, k))) for k in names}
    masses = (model.mass(s), model.tracer_mass(s), model.tracer_mass(s0))
    if serial is not None:
        ref = serial.run(serial.initial_state(), STEPS)
        for k in names:
            if not np.array_equal(got[k], np.asarray(getattr(ref, k))):
                diff = np.max(np.abs(got[k] - np.asarray(getattr(ref, k))))
                failures.append(f"field {k} differs from one process by {diff:.3e}")
        if masses[:2] != (serial.mass(ref), serial.tracer_mass(ref)):
            failures.append("exactly rounded mass differs from one process")
        if abs(masses[1] - masses[2]) > 1e-13 * abs(masses[2]):
            failures.append(f"tracer mass drift {(masses[1] - masses[2]) / masses[2]:.2e}")

    # Gradients: a weighted loss after STEPS steps of a fixed dt.
    dt = jnp.asarray(600.0)
    rng = np.random.default_rng(3)
    weight_g = rng.uniform(0.5, 1.5, (6, N, N))
    tangent_g = rng.standard_normal((6, N, N))

    def make_loss(m):
        weight = jnp.asarray(m.take(weight_g))
        start = m.initial_state()

        def loss(h):
            out = m.run(start.replace(h=h), STEPS, dt=dt)
            return m.global_sum(weight * (out.h - 3000.0) ** 2)
        return jax.jit(loss), jax.jit(jax.grad(loss))

    loss, grad = make_loss(model)
    h0, v = s0.h, jnp.asarray(model.take(tangent_g)) * 10.0
    g = grad(h0)
    g_all = model.gather(np.asarray(g))
    if serial is not None:
        _, grad1 = make_loss(serial)
        g1 = np.asarray(grad1(serial.initial_state().h))
        rel = np.max(np.abs(g_all - g1)) / np.max(np.abs(g1))
        print(f"gradient N ranks vs 1 rank: {rel:.2e} relative", flush=True)
        if not rel < 1e-12:
            failures.append(f"N-rank gradient differs from one rank by {rel:.2e} relative")
    # Dot-product test: the JVP of the loss against <grad, v>.
    jv = float(jax.jit(lambda h, t: jax.jvp(loss, (h,), (t,))[1])(h0, v))
    gv = float(model.global_sum(g * v))
    if not abs(jv - gv) <= 1e-12 * abs(jv):
        failures.append(f"dot-product test {abs(jv - gv) / abs(jv):.2e}")
    # Taylor test: R1(eps) = |L(h + eps v) - L(h) - eps <g, v>| falls as eps^2.
    base = float(loss(h0))
    r1 = [abs(float(loss(h0 + e * v)) - base - e * gv) for e in (1.0, 0.5, 0.25)]
    rates = [math.log2(r1[k] / r1[k + 1]) for k in range(2)]
    if comm.Get_rank() == 0:
        print(f"dot-product test {abs(jv - gv) / abs(jv):.2e}; Taylor rates "
              f"{rates[0]:.3f} {rates[1]:.3f}; mass {masses[0]!r}, tracer drift "
              f"{(masses[1] - masses[2]) / masses[2]:.2e}", flush=True)
    if not min(rates) >= 1.95:
        failures.append(f"Taylor rates {rates}")
    return comm.bcast(failures, root=0)


def main() -> int:
    import dycore

    dycore.runtime.configure()
    dycore.runtime.enable_compile_cache()
    from mpi4py import MPI

    failures = check_ranks(MPI.COMM_WORLD)
    if MPI.COMM_WORLD.Get_rank() == 0:
        print("\n".join(failures) if failures else
              f"OK: {MPI.COMM_WORLD.Get_size()} ranks equal one process")
    return 1 if failures else 0


@pytest.mark.mpi
def test_ranks_equal_one_process():
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_size() not in (6, 24):
        pytest.skip("needs 6 or 24 ranks (test_six_ranks_in_a_subprocess covers -n 6)")
    assert check_ranks(MPI.COMM_WORLD) == []


MPIRUN = shutil.which("mpirun")


@pytest.mark.slow
@pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")
@pytest.mark.skipif(os.environ.get("DYCORE_SLOW_TESTS") != "1",
                    reason="compiling the sphere on 6 oversubscribed ranks takes tens of "
                           "minutes on 2 cores; DYCORE_SLOW_TESTS=1 runs it")
def test_six_ranks_in_a_subprocess():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMIX_", "PMI_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    result = subprocess.run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", "6",
                             sys.executable, str(pathlib.Path(__file__))],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "OK: 6 ranks" in result.stdout


@pytest.mark.parametrize("ranks, near", [(2, "1, 6"), (12, "6, 24"), (30, "24, 54")])
def test_rank_counts_that_do_not_fit_the_cube(ranks, near):
    from parallel.cube_context import cube_tiles_per_edge
    from parallel.errors import DecompositionError

    with pytest.raises(DecompositionError) as err:
        cube_tiles_per_edge(ranks, 24, 2)
    message = str(err.value)
    assert "\n" not in message and f"nearest valid counts: {near}" in message
    assert isinstance(err.value, ValueError)


def test_valid_rank_counts_and_narrow_tiles():
    from parallel.cube_context import cube_tiles_per_edge, valid_cube_counts
    from parallel.errors import DecompositionError

    assert valid_cube_counts(100) == [1, 6, 24, 54, 96]
    assert [cube_tiles_per_edge(r, 24, 2) for r in (1, 6, 24, 54)] == [0, 1, 2, 3]
    with pytest.raises(DecompositionError, match="narrower than the halo"):
        cube_tiles_per_edge(24, 3, 2)


if __name__ == "__main__":
    raise SystemExit(main())
