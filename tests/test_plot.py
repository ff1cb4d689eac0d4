"""Quick-look plots (issue 14 item 6): python -m dycore.plot writes a PNG of
one frame or a GIF of all, derives vorticity, velocities and the surface
elevation when the file does not hold them, reads the stitched file of a
run on 2 ranks, and refuses bad input (also a missing matplotlib) with one
line and exit status 2.

The derived vorticity is checked against an exact answer: solid-body
rotation u = -W (y - yc), v = W (x - xc) has vorticity 2 W, which centred
differences reproduce exactly (the velocity is linear).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from dycore.plot import PlaneView, main  # noqa: E402

W = 1.0e-4


@pytest.fixture(scope="module")
def rotation(tmp_path_factory):
    path = tmp_path_factory.mktemp("plot") / "rotation.h5"
    x, y = np.linspace(500.0, 19500.0, 20), np.linspace(500.0, 9500.0, 10)
    X, Y = np.meshgrid(x, y)
    h = 10.0 + 0.0 * X
    u, v = -W * (Y - 5000.0), W * (X - 10000.0)
    with h5py.File(path, "w") as f:
        f["x"], f["y"], f["time"] = x, y, np.array([0.0, 60.0])
        for name, q in (("h", h), ("hu", h * u), ("hv", h * v)):
            f[name] = np.stack([q, 2 * q])
            f[name].attrs["units"] = "m" if name == "h" else "m2 s-1"
        f["b"] = 0.5 + 0.0 * X
    return path


def test_derived_fields_are_exact_for_solid_body_rotation(rotation):
    with h5py.File(rotation, "r") as f:
        view = PlaneView(f)
        np.testing.assert_allclose(view.frame("vorticity", 0), 2 * W, rtol=1e-12)
        np.testing.assert_allclose(view.frame("vorticity", -1), 2 * W, rtol=1e-12)  # hu, h both doubled
        np.testing.assert_allclose(view.frame("eta", 0), 10.5)
        assert view.unit == "km" and view.fields()[:3] == ["h", "hu", "hv"]
        assert "vorticity" in view.fields()


def test_png_and_gif(rotation, tmp_path, capsys):
    png, gif = tmp_path / "v.png", tmp_path / "h.gif"
    assert main([str(rotation), "--field", "vorticity", "--time", "-1", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([str(rotation), "--field", "h", "--animate", "-o", str(gif)]) == 0
    assert gif.read_bytes()[:6] == b"GIF89a"


@pytest.mark.parametrize("args, needle", [
    (["--field", "salinity"], "no field 'salinity'"),
    (["--time", "5"], "the file has 2 frames"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_is_one_line_exit_2(rotation, tmp_path, capsys, args, needle):
    assert main([str(rotation), *args, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("dycore.plot: error: ") and needle in err[0]


def test_missing_file_and_missing_matplotlib(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from dycore.plot import main; "
            f"sys.exit(main([{str(tmp_path / 'none.h5')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and "matplotlib is not installed" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert main([str(tmp_path / "none.h5")]) == 2


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="no mpirun")
def test_plot_of_a_two_rank_run(tmp_path):
    out = tmp_path / "two.h5"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}
    proc = subprocess.run(
        ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", "2", sys.executable, "-m",
         "dycore.run", "--case", "unstable_jet", "--nx", "16", "--ny", "16", "--t-end", "7200",
         "--output", str(out), "--quiet"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    png = tmp_path / "two.png"
    assert main([str(out), "--field", "vorticity", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with h5py.File(out, "r") as f:
        assert np.all(np.isfinite(PlaneView(f).frame("vorticity", -1)))
