"""How well the unperturbed Galewsky jet stays balanced on the cubed sphere,
over 6 days and with resolution.

    python -m benchmarks.sphere_balance --sizes 24 48 --tendency-sizes 8 12 16 24 48 96 192

The jet of Galewsky, Scott & Polvani (2004, Tellus 56A, 429-440) without
the height bump is a steady solution of the shallow-water equations
(gradient-wind balance), so every change is the scheme's error.
MUSCL-MC/HLLC/SSP-RK3, float64, all six faces on one process, the fixed
step of :func:`benchmarks.sphere_invariants.fixed_step` (the initial CFL
step at cfl 0.45, shortened to a whole number of steps per day). Reported
per day:

- ``dh_max``: max |h - h(0)| (m); ``l2``: Williamson et al. (1992) normalised
  l2 of h - h(0) (area-weighted);
- ``dzeta_max``: max |zeta - zeta(0)| (1/s), the relative vorticity of
  :func:`dycore.sphere.diagnostics.vorticity`;
- ``tendency``: the largest |d(hV)/dt| component (m^2/s^2) of the state,
  relative to that of the initial jet over a flat 10000 m surface (the
  same winds, no pressure gradient to balance them; the measure of
  docs/sphere.md);
- ``wave4_h``, ``wave4_zeta``: the largest over latitudes (1-degree grid,
  :func:`dycore.sphere.interpolate_latlon`) of the amplitude of zonal
  wavenumber 4 of h - h(0) (m) and of zeta - zeta(0) (1/s). The jet is
  zonal and the cube is invariant under 90-degree turns about the polar
  axis, so the scheme's error away from the zonal mean is the cube's
  imprint, wavenumbers 4, 8, ... (``zonal_h``: the largest |zonal mean of
  h - h(0)|, m, for comparison).

``--tendency-sizes`` adds the initial tendency ratio alone (one tendency
evaluation) at more resolutions, for its order, and the largest initial
tendency beyond N/8 cells of every panel edge (``interior``); with
``--sizes`` given no value, only that table is made. Writes
benchmarks/results/sphere_balance.{json,md} (or --tag).
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import time

import numpy as np

from benchmarks.sphere_invariants import RESULTS, fixed_step

NLON, NLAT = 360, 180


def jet(n):
    """The unperturbed jet's model on C ``n`` and its initial state."""
    from dycore.sphere import SphereModel

    model = SphereModel(n, case="galewsky", perturbed=False)
    return model, model.initial_state()


def max_tendency(model, state, margin=0):
    """Largest |component| of the momentum tendency (m^2/s^2), over the cells
    more than ``margin`` cells from every face edge (one process: (6, N, N))."""
    d = model.rhs(state, model.params)
    inner = (slice(None), slice(margin, model.n - margin), slice(margin, model.n - margin))
    return max(float(np.max(np.abs(np.asarray(q)[inner]))) for q in (d.mx, d.my, d.mz))


def flat_reference(model, s0):
    """Largest momentum tendency of the same winds over a flat 10000 m surface."""
    import jax.numpy as jnp

    flat = s0.replace(h=jnp.full_like(s0.h, 10000.0), mx=s0.mx / s0.h * 1e4,
                      my=s0.my / s0.h * 1e4, mz=s0.mz / s0.h * 1e4)
    return max_tendency(model, flat)


def zonal_modes(model, field):
    """(largest |zonal mean|, largest wavenumber-4 amplitude) over latitudes."""
    from dycore.sphere import interpolate_latlon

    _, _, values = interpolate_latlon(model.gather(np.asarray(field)), NLON, NLAT)
    spectrum = np.fft.rfft(values, axis=-1) / NLON
    return float(np.abs(spectrum[:, 0]).max()), float(2.0 * np.abs(spectrum[:, 4]).max())


def initial_ratio(n):
    """The initial tendency on C ``n``: everywhere, and ``interior``: beyond
    N/8 cells of the panel edges (a fixed fraction of each face)."""
    model, s0 = jet(n)
    balanced, flat = max_tendency(model, s0), flat_reference(model, s0)
    return {"n": n, "tendency": balanced, "flat": flat, "ratio": balanced / flat,
            "interior": max_tendency(model, s0, margin=max(1, n // 8))}


def run_jet(n, days, every):
    """One run of the unperturbed jet; returns the row with its daily series."""
    from dycore.sphere import DAY
    from dycore.sphere.diagnostics import vorticity

    model, s0 = jet(n)
    days, samples, interval, steps, dt = fixed_step(model, s0, days, every)
    flat = flat_reference(model, s0)
    zeta0 = np.asarray(vorticity(model, s0))
    h0 = np.asarray(s0.h)

    def sample(state, day):
        dh = np.asarray(state.h) - h0
        dzeta = np.asarray(vorticity(model, state)) - zeta0
        zonal_h, wave4_h = zonal_modes(model, dh)
        return {"day": day, "dh_max": float(np.abs(dh).max()),
                "l2": model.height_errors(state, s0)["l2"],
                "dzeta_max": float(np.abs(dzeta).max()),
                "tendency": max_tendency(model, state) / flat,
                "zonal_h": zonal_h, "wave4_h": wave4_h,
                "wave4_zeta": zonal_modes(model, dzeta)[1]}

    series, s, tic = [sample(s0, 0.0)], s0, time.perf_counter()
    for k in range(samples):
        s = model.run(s, steps, dt=dt)
        series.append(sample(s, (k + 1) * interval / DAY))
        print(json.dumps({"n": n, **series[-1]}), flush=True)
    return {"n": n, "days": days, "dt": float(dt), "steps": steps * samples,
            "flat_tendency": flat, "series": series, "seconds": time.perf_counter() - tic,
            "mass_drift": (model.mass(s) - model.mass(s0)) / model.mass(s0)}


def table(runs, ratios):
    lines = ["Unperturbed Galewsky jet, MUSCL-MC/HLLC/SSP-RK3, float64, one process", "",
             "Initial momentum tendency, relative to the same jet over a flat surface:", "",
             "| C N | max tendency m2/s2 | flat m2/s2 | ratio | order | beyond N/8 cells of "
             "panel edges m2/s2 | order |", "|---|---|---|---|---|---|---|"]
    prev = None

    def order(key, r):
        if prev is None or key not in r or key not in prev:
            return ""
        return f"{math.log(prev[key] / r[key]) / math.log(r['n'] / prev['n']):.2f}"

    for r in ratios:
        interior = f"{r['interior']:.3g}" if "interior" in r else ""
        lines.append(f"| C{r['n']} | {r['tendency']:.3g} | {r['flat']:.3g} | "
                     f"{r['ratio']:.3g} | {order('tendency', r)} | {interior} | "
                     f"{order('interior', r)} |")
        prev = r
    if not runs:
        return lines
    lines += ["", "Per day (h0, zeta0: the initial fields; tendency: relative to the flat "
              "jet's initial one; wave 4: the largest amplitude over latitudes):", "",
              "| C N | day | max abs(h - h0) m | l2 | max abs(zeta - zeta0) 1/s | tendency | "
              "zonal mean h m | wave 4 h m | wave 4 zeta 1/s |", "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        for d in run["series"]:
            lines.append(f"| C{run['n']} | {d['day']:g} | {d['dh_max']:.3g} | {d['l2']:.3e} | "
                         f"{d['dzeta_max']:.3e} | {d['tendency']:.3g} | {d['zonal_h']:.3g} | "
                         f"{d['wave4_h']:.3g} | {d['wave4_zeta']:.3e} |")
    lines += ["", "| C N | steps | dt s | mass drift | wall s |", "|---|---|---|---|---|"]
    lines += [f"| C{r['n']} | {r['steps']} | {r['dt']:.1f} | {r['mass_drift']:.1e} | "
              f"{r['seconds']:.0f} |" for r in runs]
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="*", default=[24, 48],
                   help="C N of the 6-day runs")
    p.add_argument("--tendency-sizes", type=int, nargs="*", default=[],
                   help="more C N for the initial tendency alone")
    p.add_argument("--days", type=float, default=None, help="run length (default 6)")
    p.add_argument("--every", type=float, default=1.0, help="sample interval (days)")
    p.add_argument("--tag", default="sphere_balance")
    args = p.parse_args(argv)

    import dycore
    dycore.runtime.configure()

    ratios = [initial_ratio(n) for n in sorted(set(args.sizes) | set(args.tendency_sizes))]
    for r in ratios:
        print(json.dumps(r), flush=True)
    runs = [run_jet(n, args.days, args.every) for n in args.sizes]
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(
        {"machine": machine, "initial": ratios, "runs": runs}, indent=1))
    lines = table(runs, ratios)
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
