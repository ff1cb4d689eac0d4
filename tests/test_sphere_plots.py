"""benchmarks/sphere_plots.py on a tiny grid (C4, a few steps): every plot
(TC5, TC6, Galewsky vorticity with and without the bump, the TC2 error with
the panel edges) is written as a valid PNG under 200 kB, and the drawn
panel edges lie on the cube's edges (equidistant from the two nearest face
centres). Skipped without matplotlib."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from benchmarks.sphere_plots import PLOTS, make_plots, panel_edges  # noqa: E402
from parallel.cube import FRAMES  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_plot_is_a_png(tmp_path):
    written = make_plots(n=4, n_galewsky=4, out=tmp_path, plots=PLOTS, days=0.1,
                         nlon=36, nlat=18)
    assert sorted(p.name for p in written) == sorted(
        ["tc5_day15.png", "tc6_day14.png", "galewsky_day6.png",
         "galewsky_unperturbed_day6.png", "tc2_error.png"])
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC, path
        assert path.stat().st_size < 200_000, path          # small enough for docs/


def test_panel_edges_lie_on_the_cube_edges():
    lines = panel_edges(4)
    assert len(lines) >= 24                    # 6 faces x 4 sides, some cut at the date line
    lon = np.radians(np.concatenate([x for x, _ in lines]))
    lat = np.radians(np.concatenate([y for _, y in lines]))
    p = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    dots = np.sort(p @ np.asarray(FRAMES, float)[:, 0].T, axis=-1)
    np.testing.assert_allclose(dots[:, -1], dots[:, -2], atol=1e-12)
