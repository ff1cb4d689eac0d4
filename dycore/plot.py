"""Quick-look plots of an output file:

    python -m dycore.plot FILE.h5 --field vorticity --time -1 -o out.png
    python -m dycore.plot FILE.h5 --field h --animate -o out.gif

Fields: any (time, y, x) variable of the file (h, hu, hv, and whatever
derived outputs it holds), plus the derived ones below, computed from h,
hu, hv and the bed b when the file does not hold them:

    u, v        velocity components hu/h, hv/h (m/s; 0 in dry cells)
    speed       |(u, v)| (m/s)
    eta         surface elevation h + b (m)
    vorticity   relative vorticity dv/dx - du/dy (1/s), centred differences
                on the cell centres (one-sided at the domain edges)

Diverging colour maps with limits symmetric about zero for signed fields
(velocities, vorticity) and about the mean for the surface elevation,
sequential ones otherwise; axes in km (m for domains under 10 km), the
colour bar with the field's units. ``--time`` is a frame index (negative
counts from the end, as in Python). A file written on N ranks is read
through its stitched global view. Needs matplotlib (``pip install
'dycore[plot]'``); without it, one line and exit status 2.

The file's geometry is a :class:`PlaneView` (x, y cell centres); a
cubed-sphere file will need a view that maps the six faces to a lon-lat
projection (add it in :func:`view_of`).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

DERIVED = {  # name: (long name, units, diverging)
    "u": ("x velocity", "m/s", True),
    "v": ("y velocity", "m/s", True),
    "speed": ("speed", "m/s", False),
    "eta": ("surface elevation", "m", True),
    "vorticity": ("relative vorticity", "1/s", True),
}
STORED_ALIASES = {"vorticity": ("vorticity", "relative_vorticity", "zeta"),
                  "eta": ("eta", "surface_elevation", "zeta_surface"),
                  "u": ("u",), "v": ("v",), "speed": ("speed",)}


class PlotError(Exception):
    """Bad input to the plot command; one line, exit status 2."""


class PlaneView:
    """A Cartesian plane file: fields (time, y, x) on cell centres x, y (m)."""

    def __init__(self, f):
        self.f = f
        self.x, self.y = np.asarray(f["x"][:], float), np.asarray(f["y"][:], float)
        self.time = np.asarray(f["time"][:], float)
        self.scale, self.unit = ((1e3, "km") if max(np.ptp(self.x), np.ptp(self.y)) >= 1e4
                                 else (1.0, "m"))

    def fields(self) -> list[str]:
        stored = [k for k, d in self.f.items() if getattr(d, "ndim", 0) == 3 and k != "time"]
        derivable = [k for k in DERIVED if k not in stored and self._can_derive(k)]
        return stored + derivable

    def _can_derive(self, name) -> bool:
        need = {"eta": ("h",)}.get(name, ("h", "hu", "hv"))
        return all(k in self.f for k in need)

    def _stored(self, name, k):
        return np.asarray(self.f[name][k], float)

    def frame(self, name: str, k: int) -> np.ndarray:
        """Field ``name`` at frame ``k``, (ny, nx)."""
        for alias in STORED_ALIASES.get(name, (name,)):
            if alias in self.f and getattr(self.f[alias], "ndim", 0) == 3:
                return self._stored(alias, k)
        if name not in DERIVED or not self._can_derive(name):
            raise PlotError(f"no field {name!r} in the file, and it cannot be derived; "
                            f"available: {', '.join(self.fields())}")
        h = self._stored("h", k)
        if name == "eta":
            b = np.asarray(self.f["b"][:], float) if "b" in self.f else 0.0
            return h + b
        wet = h > 0
        u = np.where(wet, self._stored("hu", k) / np.where(wet, h, 1.0), 0.0)
        v = np.where(wet, self._stored("hv", k) / np.where(wet, h, 1.0), 0.0)
        if name == "u":
            return u
        if name == "v":
            return v
        if name == "speed":
            return np.hypot(u, v)
        dv_dx = np.gradient(v, self.x, axis=1) if len(self.x) > 1 else np.zeros_like(v)
        du_dy = np.gradient(u, self.y, axis=0) if len(self.y) > 1 else np.zeros_like(u)
        return dv_dx - du_dy

    def describe(self, name: str) -> tuple[str, str, bool]:
        """(long name, units, diverging) of a field."""
        if name in DERIVED:
            return DERIVED[name]
        attrs = self.f[name].attrs
        text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
        return (text(attrs.get("long_name", name)), text(attrs.get("units", "")),
                name.startswith(("hu", "hv")) or "vort" in name)

    def extent(self):
        dx = (self.x[1] - self.x[0]) if len(self.x) > 1 else 1.0
        dy = (self.y[1] - self.y[0]) if len(self.y) > 1 else 1.0
        return [(self.x[0] - dx / 2) / self.scale, (self.x[-1] + dx / 2) / self.scale,
                (self.y[0] - dy / 2) / self.scale, (self.y[-1] + dy / 2) / self.scale]


def view_of(f):
    """The geometry of an output file (only the plane exists so far)."""
    if "x" not in f or "y" not in f or "time" not in f:
        raise PlotError("not a dycore output file (no x, y and time variables); cubed-sphere "
                        "output has no plot view yet")
    if "face" in f:
        raise PlotError("cubed-sphere output (dims face, y, x) has no plot view yet; put its "
                        "fields on a lon-lat grid with dycore.sphere.interpolate_latlon "
                        "(docs/sphere.md)")
    return PlaneView(f)


def _limits(name, frames, diverging):
    lo, hi = float(np.nanmin(frames)), float(np.nanmax(frames))
    if not diverging:
        return lo, hi, "viridis"
    centre = float(np.nanmean(frames)) if name == "eta" else 0.0
    half = max(abs(hi - centre), abs(lo - centre)) or 1.0
    return centre - half, centre + half, "RdBu_r"


def plot(path, field="h", time=-1, output="out.png", animate=False, dpi=100) -> str:
    """Write the plot (PNG, or with ``animate`` a GIF of every frame) of
    ``field`` from the output file ``path``; returns ``output``."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.animation import FuncAnimation, PillowWriter
    except ImportError:
        raise PlotError("matplotlib is not installed; install the plot extra: "
                        "pip install 'dycore[plot]'") from None
    import os

    import h5py
    if not os.path.isfile(path):
        raise PlotError(f"no such file: {str(path)!r}")
    try:
        f = h5py.File(path, "r", locking=False)
    except (OSError, ValueError):
        raise PlotError(f"{str(path)!r} is not an HDF5 file (or is still being written: "
                        f"plot its .part file)") from None
    with f:
        view = view_of(f)
        n = len(view.time)
        if n == 0:
            raise PlotError(f"{str(path)!r} holds no frames")
        frames = list(range(n)) if animate else [time]
        if not animate and not -n <= time < n:
            raise PlotError(f"--time {time}: the file has {n} frames (0 to {n - 1}, or -1 for "
                            f"the last)")
        data = [view.frame(field, k) for k in frames]
        long_name, units, diverging = view.describe(field)
        vmin, vmax, cmap = _limits(field, np.stack(data), diverging)
        fig, ax = plt.subplots(figsize=(6.4, 5.2))
        image = ax.imshow(data[0], origin="lower", extent=view.extent(), cmap=cmap,
                          vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
        fig.colorbar(image, ax=ax, label=f"{long_name} ({units})" if units else long_name)
        ax.set_xlabel(f"x ({view.unit})")
        ax.set_ylabel(f"y ({view.unit})")

        def title(k):
            ax.set_title(f"{field} at t = {view.time[k]:.6g} s (frame {k % n} of {n})")

        title(frames[0])
        if animate:
            def update(i):
                image.set_data(data[i])
                title(frames[i])
                return (image,)
            FuncAnimation(fig, update, frames=len(frames), blit=False).save(
                output, writer=PillowWriter(fps=4), dpi=dpi)
        else:
            fig.savefig(output, dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    return output


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise PlotError(message)


def main(argv=None) -> int:
    p = _Parser(prog="python -m dycore.plot", description="Quick-look plot of a dycore output "
                "file (PNG of one frame, or a GIF of all of them).")
    p.add_argument("file", metavar="FILE.h5", help="output file (python -m dycore.run --output)")
    p.add_argument("--field", default="h", help="field to plot: h, hu, hv, u, v, speed, eta, "
                   "vorticity, or any other (time, y, x) variable of the file (default: h)")
    p.add_argument("--time", type=int, default=-1, metavar="INDEX",
                   help="frame index, negative from the end (default: -1, the last)")
    p.add_argument("--animate", action="store_true", help="a GIF of every frame")
    p.add_argument("-o", "--output", metavar="FILE", help="image to write (default: "
                   "FIELD.png, or FIELD.gif with --animate)")
    p.add_argument("--dpi", type=int, default=100, help="resolution (default: 100)")
    try:
        args = p.parse_args(argv)
        output = args.output or f"{args.field}.{'gif' if args.animate else 'png'}"
        plot(args.file, args.field, args.time, output, args.animate, args.dpi)
    except PlotError as err:
        sys.stderr.write(f"dycore.plot: error: {' '.join(str(err).split())}\n")
        return 2
    print(f"dycore.plot: wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
