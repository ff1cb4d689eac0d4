"""Before/after check for refactors: run every case a few steps and save the
fields, or compare two saved sets bit for bit.

    python scripts/compare_fields.py save DIR            # 1 rank
    mpirun -n 2 python scripts/compare_fields.py save DIR  # 2 ranks (DIR/np2.npz)
    python scripts/compare_fields.py compare DIR_BEFORE DIR_AFTER

``save`` runs, for every case (and case variant), with MUSCL-MC and WENO5-Z,
8 CFL steps through ``Simulation.run`` on a 24 x 20 grid; the unstable jet
also with a closure that reads the corner halo cells (3 x 3 stencil), and
the gradient of a quadratic loss after 3 steps with respect to the initial
state and every parameter. It writes ``DIR/npN.npz`` (N = rank count), the
global fields gathered on rank 0. ``compare`` reports every array that is
not bit-for-bit equal (exit status 1 if any).
"""
from __future__ import annotations

import os
import sys

import numpy as np


def _configure():
    import jax

    import dycore
    runtime = getattr(dycore, "runtime", None)
    if runtime is not None and hasattr(runtime, "configure"):
        runtime.configure()
    jax.config.update("jax_enable_x64", True)


def _runs():
    from dycore.cases import CASES

    for name, case in CASES.items():
        variants = case.choices.get("variant", (None,))
        for variant in variants:
            for scheme in ("muscl", "weno5z"):
                params = {} if variant is None else {"variant": variant}
                yield f"{name}-{variant}-{scheme}", dict(case=name, case_params=params,
                                                        nx=24, ny=20, scheme=scheme)


def _corner_closure(weight, padded, local_grid):
    """A 3 x 3 stencil of padded h (corners included) as an h tendency."""
    from dycore.state import State
    import jax.numpy as jnp

    H = local_grid.halo
    h = padded.h
    ny, nx = h.shape[0] - 2 * H, h.shape[1] - 2 * H
    acc = 0.0
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            acc = acc + h[H + dj:H + dj + ny, H + di:H + di + nx]
    lap = acc - 9.0 * h[H:H + ny, H:H + nx]
    zero = jnp.zeros_like(lap)
    return State(weight * lap, zero, zero)


def save(folder):
    _configure()
    import jax
    import jax.numpy as jnp

    from dycore import Config, Simulation

    out = {}
    root = True
    for label, values in _runs():
        sim = Simulation(Config(**values))
        root = sim.context.is_root
        state = sim.run(sim.initial_state(), 8, sim.params)
        fields = sim.gather(state)
        if root:
            for k, v in fields.items():
                out[f"{label}/{k}"] = v
    sim = Simulation(Config(case="unstable_jet", nx=24, ny=20), closure=_corner_closure)
    params = sim.params.replace(closure=jnp.asarray(1e-4))
    fields = sim.gather(sim.run(sim.initial_state(), 8, params))
    if root:
        for k, v in fields.items():
            out[f"closure/{k}"] = v
    for scheme in ("muscl", "weno5z"):
        sim = Simulation(Config(case="unstable_jet", nx=24, ny=20, scheme=scheme,
                                drag_quadratic=1e-3))
        s0 = sim.initial_state()

        def loss(s, p):
            end = sim.run(s, 3, p)
            return sim.global_sum(end.h * end.h + end.hu * end.hv)

        gs, gp = jax.grad(loss, argnums=(0, 1))(s0, sim.params)
        for name in ("h", "hu", "hv"):
            full = sim.context.gather(np.asarray(getattr(gs, name)))
            if root:
                out[f"grad-{scheme}/state.{name}"] = full
        full_b = sim.context.gather(np.asarray(gp.b))
        if root:
            out[f"grad-{scheme}/b"] = full_b
            for name in ("g", "f0", "beta", "drag_linear", "drag_quadratic"):
                out[f"grad-{scheme}/{name}"] = np.asarray(getattr(gp, name))
    if root:
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"np{sim.context.size}.npz")
        np.savez(path, **out)
        print(f"saved {len(out)} arrays to {path}")


def compare(before, after) -> int:
    bad = 0
    for name in sorted(os.listdir(before)):
        if not name.endswith(".npz"):
            continue
        a, b = np.load(os.path.join(before, name)), np.load(os.path.join(after, name))
        missing = set(a.files) ^ set(b.files)
        for key in sorted(missing):
            print(f"{name}: {key} only in one set")
            bad += 1
        for key in sorted(set(a.files) & set(b.files)):
            x, y = a[key], b[key]
            if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=True):
                diff = np.max(np.abs(x - y)) if x.shape == y.shape else "shape"
                print(f"{name}: {key} differs (max |diff| {diff})")
                bad += 1
        print(f"{name}: {len(a.files)} arrays compared, {bad} differ so far")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "save":
        save(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
