"""Lat-lon plots of the sphere's test cases, as in the papers, written as
PNGs (by default to docs/images/):

    python -m benchmarks.sphere_plots --nx 48 --nx-galewsky 96

- ``tc5_day15.png``: Williamson et al. (1992, J. Comput. Phys. 102,
  211-224; "W92") test 5, the free-surface height h + b (m) at day 15,
  contours every 50 m (as in W92's and Jakob-Chien et al. 1995's figures);
- ``tc6_day14.png``: W92 test 6 (Rossby-Haurwitz wave 4), h (m) at day 14,
  contours every 100 m;
- ``galewsky_day6.png``: the jet of Galewsky, Scott & Polvani (2004, Tellus
  56A, 429-440), relative vorticity (1/s) at day 6 over 0-90 N, contours
  every 2e-5 1/s, negative dashed, zero left out (their Fig. 4);
- ``galewsky_unperturbed_day6.png``: the same jet without the bump (it
  should stay zonal), relative vorticity at day 6 over 0-90 N, same
  contours, with the cube's panel edges drawn (grey), to show the cube's
  wave-4 imprint;
- ``tc2_error.png``: W92 test 2 at alpha = 0 and pi/4 (the flow over the
  cube's vertices), the height error h - h_exact (m) after 5 days, with
  the cube's panel edges and the flow's rotation poles drawn, to show
  where the error lies.

Each case runs :class:`dycore.sphere.SphereModel` (MUSCL-MC/HLLC/SSP-RK3,
float64, one process) at a fixed step: the CFL step (cfl 0.45) of the
initial state, shortened so that a whole number of steps makes the end
time. Fields are put on a 1-degree grid (``--nlon``, ``--nlat``) with
:func:`dycore.sphere.interpolate_latlon`. Needs matplotlib (the plot
extra); without it, one line and exit status 2.
"""
from __future__ import annotations

import argparse
import io
import math
import pathlib
import sys
import time

import numpy as np

IMAGES = pathlib.Path(__file__).resolve().parent.parent / "docs" / "images"
PLOTS = ("tc2", "tc5", "tc6", "galewsky", "galewsky_unperturbed")


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("sphere_plots: error: matplotlib is not installed; "
                         "pip install 'dycore[plot]'") from None
    return plt


def run(n, case, days, **kwargs):
    """(model, initial state, state after ``days``) of ``case`` on C ``n``."""
    import jax.numpy as jnp

    from dycore.sphere import DAY, SphereModel

    model = SphereModel(n, case=case, **kwargs)
    s0 = model.initial_state()
    steps = max(1, math.ceil(days * DAY / float(model.stable_dt(s0))))
    state = model.run(s0, steps, dt=jnp.asarray(days * DAY / steps))
    return model, s0, state


def save(plt, fig, path):
    """Write ``fig`` as a PNG of 128 colours (a few tens of kB; Pillow comes
    with matplotlib) and close it."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    buffer.seek(0)
    Image.open(buffer).convert("RGB").quantize(colors=128).save(path, optimize=True)


def panel_edges(n):
    """Lon, lat (degrees) polylines of the 12 panel edges of the cube."""
    from dycore.grids.cubed_sphere import CubedSphereGrid

    corners = CubedSphereGrid(max(n, 16), 1.0).corner_points()
    lines = []
    for f in range(6):
        for line in (corners[f, 0], corners[f, -1], corners[f, :, 0], corners[f, :, -1]):
            lon = np.degrees(np.arctan2(line[:, 1], line[:, 0]))
            lat = np.degrees(np.arcsin(np.clip(line[:, 2], -1, 1)))
            cut = np.nonzero(np.abs(np.diff(lon)) > 180)[0] + 1     # the date line
            lines += [(a, b) for a, b in zip(np.split(lon, cut), np.split(lat, cut))]
    return lines


def _figure(plt, title, lat_range=(-90, 90)):
    fig, ax = plt.subplots(figsize=(8.0, 4.2 * (lat_range[1] - lat_range[0]) / 180 + 0.6))
    ax.set_xlim(-180, 180)
    ax.set_ylim(*lat_range)
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.set_title(title, fontsize=10)
    return fig, ax


def _contours(plt, path, lon, lat, field, step, title, units, lat_range=(-90, 90),
              dashed_negative=False, edges=None):
    fig, ax = _figure(plt, title, lat_range)
    for x, y in edges or ():
        ax.plot(x, y, "-", color="0.5", linewidth=0.6)
    levels = np.arange(math.floor(field.min() / step) * step, field.max() + step, step)
    if len(levels) < 2:
        levels = np.linspace(field.min(), field.max() + 1e-12 * abs(field.max()) + 1e-30, 3)
    if dashed_negative:        # signed field: colours symmetric about 0, no zero contour
        half = float(np.abs(field).max()) or 1.0
        filled = ax.pcolormesh(lon, lat, field, cmap="RdBu_r", vmin=-half, vmax=half,
                               shading="nearest", rasterized=True)
        levels = levels[np.abs(levels) > 0.5 * step]
    else:
        filled = ax.contourf(lon, lat, field, levels=levels, cmap="viridis", extend="both")
    if len(levels):
        lines = ax.contour(lon, lat, field, levels=levels, colors="k", linewidths=0.4)
        if dashed_negative:
            lines.set_linestyle(["--" if v < 0 else "-" for v in lines.levels])
    fig.colorbar(filled, ax=ax, label=units, shrink=0.9)
    save(plt, fig, path)


def extremes(model, field) -> str:
    """Range of a field on the cube's cells and where its largest |value| is."""
    q = model.gather(np.asarray(field))
    f, j, i = np.unravel_index(np.argmax(np.abs(q)), q.shape)
    lon, lat = (np.degrees(x[f, j, i]) for x in model.grid.lon_lat())
    return (f"range {q.min():.4g} to {q.max():.4g}, max |.| at lon {lon:.1f} lat {lat:.1f} "
            f"(face {f}, j {j}, i {i} of {q.shape[-1]})")


def make_plots(n=48, n_galewsky=96, out=IMAGES, plots=PLOTS, days=None, nlon=360, nlat=180):
    """Run the cases and write the PNGs; returns the paths written. ``days``
    overrides every case's length (for a quick check)."""
    from dycore.sphere import interpolate_latlon
    from dycore.sphere.diagnostics import vorticity

    plt = _pyplot()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def length(default):
        return default if days is None else days

    def latlon(model, field):
        return interpolate_latlon(model.gather(np.asarray(field)), nlon, nlat)

    for name in plots:
        tic, notes = time.perf_counter(), []
        if name == "tc5":
            d = length(15.0)
            model, _, s = run(n, "williamson5", d)
            lon, lat, surface = latlon(model, np.asarray(s.h) + np.asarray(model.params.b))
            notes.append(extremes(model, np.asarray(s.h) + np.asarray(model.params.b)))
            path = out / "tc5_day15.png"
            _contours(plt, path, lon, lat, surface, 50.0, f"Williamson 5: h + b at day {d:g}, "
                      f"C{n} (contours every 50 m)", "m")
        elif name == "tc6":
            d = length(14.0)
            model, _, s = run(n, "williamson6", d)
            lon, lat, h = latlon(model, s.h)
            notes.append(extremes(model, s.h))
            path = out / "tc6_day14.png"
            _contours(plt, path, lon, lat, h, 100.0, f"Williamson 6: h at day {d:g}, C{n} "
                      "(contours every 100 m)", "m")
        elif name in ("galewsky", "galewsky_unperturbed"):
            d = length(6.0)
            perturbed = name == "galewsky"
            model, _, s = run(n_galewsky, "galewsky", d, perturbed=perturbed)
            zeta_cells = vorticity(model, s)
            lon, lat, zeta = latlon(model, zeta_cells)
            notes.append(extremes(model, zeta_cells))
            path = out / ("galewsky_day6.png" if perturbed else "galewsky_unperturbed_day6.png")
            what = "" if perturbed else " without the bump; panel edges grey"
            _contours(plt, path, lon, lat, zeta, 2e-5, f"Galewsky jet{what}: relative vorticity "
                      f"at day {d:g}, C{n_galewsky} (contours every 2e-5 1/s, negative dashed)",
                      "1/s", lat_range=(0, 90), dashed_negative=True,
                      edges=None if perturbed else panel_edges(n_galewsky))
        elif name == "tc2":
            d = length(5.0)
            path = out / "tc2_error.png"
            fig, axes = plt.subplots(2, 1, figsize=(8.0, 7.6), sharex=True)
            for ax, (alpha, label) in zip(axes, ((0.0, "0"), (math.pi / 4, "pi/4"))):
                model, s0, s = run(n, "williamson2", d, alpha=alpha)
                error = np.asarray(s.h) - np.asarray(s0.h)
                lon, lat, err = latlon(model, error)
                notes.append(f"alpha {label}: " + extremes(model, error))
                half = float(np.abs(err).max()) or 1.0
                image = ax.pcolormesh(lon, lat, err, cmap="RdBu_r", vmin=-half, vmax=half,
                                      shading="nearest", rasterized=True)
                for x, y in panel_edges(n):
                    ax.plot(x, y, "k-", linewidth=0.6)
                pole = np.degrees(np.arctan2(model.axis[1], model.axis[0]))
                ax.plot([pole, pole - 180.0 if pole > 0 else pole + 180.0],
                        np.degrees([np.arcsin(model.axis[2]), -np.arcsin(model.axis[2])]),
                        "k+", markersize=9)
                ax.set_xlim(-180, 180)
                ax.set_ylim(-90, 90)
                ax.set_ylabel("latitude (degrees north)")
                ax.set_title(f"Williamson 2, alpha = {label}: h - h_exact (m) at day {d:g}, "
                             f"C{n}; panel edges (lines), rotation poles (+)", fontsize=10)
                fig.colorbar(image, ax=ax, label="m", shrink=0.9)
            axes[-1].set_xlabel("longitude (degrees east)")
            save(plt, fig, path)
        else:
            raise ValueError(f"unknown plot {name!r}; valid: {', '.join(PLOTS)}")
        print(f"sphere_plots: wrote {path} ({time.perf_counter() - tic:.0f} s; "
              f"{'; '.join(notes)})", flush=True)
        written.append(path)
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nx", type=int, default=48, help="cells per face edge (TC2, TC5, TC6)")
    p.add_argument("--nx-galewsky", type=int, default=96,
                   help="cells per face edge (Galewsky, with and without the bump)")
    p.add_argument("--plots", nargs="+", choices=PLOTS, default=list(PLOTS))
    p.add_argument("--days", type=float, default=None, help="override the run lengths")
    p.add_argument("--out", default=str(IMAGES), help="directory for the PNGs")
    args = p.parse_args(argv)
    _pyplot()
    import dycore
    dycore.runtime.configure()
    make_plots(args.nx, args.nx_galewsky, args.out, args.plots, args.days)
    return 0


if __name__ == "__main__":
    sys.exit(main())
