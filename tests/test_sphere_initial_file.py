"""The sphere's passive tracer and ``initial_file`` through the command-line
driver (in-process ``main`` at C4, Williamson test 2 tilted by pi/4, a
fixed step of 300 s so that a run started at t = 0 from a state at
t = 3600 s takes the same steps as the run that went on through 3600 s):

- ``tracer = true``: ``hq`` on (time, face, y, x) in the output, tracer
  mass conserved to 1e-13 (from the file's area and in the printed line),
  ``hq`` in the restart file and continued bit for bit by ``--restart``;
- a run started from a restart file by ``initial_file`` (h, mx, my, mz, hq)
  repeats the uninterrupted run bit for bit; from an output file (u, v
  instead of the momentum) to round-off;
- a bad file is refused with one line and exit status 2.

The runs share one compiled stepping loop through the suite's persistent
compilation cache (tests/conftest.py)."""
from __future__ import annotations

import math
import re

import h5py
import numpy as np
import pytest

from dycore.driver.main import main

RUN = ["--case", "williamson2", "--nx", "4", "--set", f"case_params.alpha={math.pi / 4!r}",
       "--set", "tracer=true", "--set", "dt=300", "--output-interval", "3600"]


def tracer_mass(f, frame):
    return math.fsum((f["area"][()] * f["hq"][frame]).ravel())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """a: 0 -> 7200 s; b: 0 -> 3600 s (output and restart file); c_out, c_rst:
    3600 s more from b's output and from b's restart file (as initial_file);
    b2: b's restart file continued by --restart to 7200 s."""
    d = tmp_path_factory.mktemp("sphere_initial")
    printed = {}

    def run(name, *args):
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main([*RUN, *map(str, args), "--output", str(d / f"{name}.h5"),
                         "--checkpoint", str(d / f"{name}.restart.h5")])
        assert code == 0
        printed[name] = out.getvalue()

    run("a", "--t-end", 7200)
    run("b", "--t-end", 3600)
    run("c_out", "--t-end", 3600, "--initial", d / "b.h5")
    run("c_rst", "--t-end", 3600, "--initial", d / "b.restart.h5")
    run("b2", "--t-end", 7200, "--restart", d / "b.restart.h5")
    return d, printed


def test_tracer_is_written_and_conserved(runs):
    d, printed = runs
    with h5py.File(d / "a.h5", "r") as f:
        hq = f["hq"]
        assert hq.shape == (3, 6, 4, 4) and hq.attrs["units"] == "m"
        assert hq.attrs["coordinates"] == "lon lat area"
        assert "tracer" in hq.attrs["long_name"]
        m0, m1 = tracer_mass(f, 0), tracer_mass(f, -1)
        assert m0 > 0 and abs(m1 - m0) <= 1e-13 * m0
        assert not np.array_equal(f["hq"][-1], f["hq"][0])    # it moved
    drift = re.search(r"relative tracer mass drift (\S+)", printed["a"])
    assert drift is not None and abs(float(drift.group(1))) < 1e-13
    with h5py.File(d / "a.restart.h5", "r") as r:
        assert r.attrs["fields"] == "h,mx,my,mz,hq"
    with h5py.File(d / "a.h5", "r") as a, h5py.File(d / "b2.h5", "r") as b2:  # --restart
        np.testing.assert_array_equal(b2["time"][()], [3600.0, 7200.0])
        for name in ("h", "hq", "u", "v"):
            np.testing.assert_array_equal(b2[name][-1], a[name][-1])


def test_initial_file_from_a_restart_file_continues_bit_for_bit(runs):
    d, _ = runs
    with h5py.File(d / "a.h5", "r") as a, h5py.File(d / "c_rst.h5", "r") as c, \
            h5py.File(d / "b.h5", "r") as b:
        for name in ("h", "hq", "u", "v"):
            np.testing.assert_array_equal(c[name][0], b[name][-1])
            np.testing.assert_array_equal(c[name][-1], a[name][-1])


def test_initial_file_from_an_output_file_continues_to_round_off(runs):
    """The output holds u, v, not the momentum: hV = h (u e + v n) repeats
    it to round-off; h and hq are the file's bit for bit."""
    d, _ = runs
    with h5py.File(d / "a.h5", "r") as a, h5py.File(d / "c_out.h5", "r") as c, \
            h5py.File(d / "b.h5", "r") as b:
        for name in ("h", "hq"):
            np.testing.assert_array_equal(c[name][0], b[name][-1])
        for name in ("h", "hq", "u", "v"):
            scale = np.abs(a[name][-1]).max()
            assert np.abs(c[name][-1] - a[name][-1]).max() <= 1e-13 * scale, name


def bad_file(path, **changes):
    """A sphere file at C4: h, u, v, hq (frames 2), with ``changes``
    (name: array, or None to leave the variable out; units via name_units)."""
    rng = np.random.default_rng(13)
    fields = {"h": 5000 + rng.random((2, 6, 4, 4)), "u": rng.random((2, 6, 4, 4)),
              "v": rng.random((2, 6, 4, 4)), "hq": rng.random((2, 6, 4, 4))}
    units = {"h": "m", "u": "m s-1", "v": "m/s", "hq": "m", "mx": "m2 s-1"}
    for key, value in changes.items():
        if key.endswith("_units"):
            units[key[:-6]] = value
        elif value is None:
            fields.pop(key)
        else:
            fields[key] = value
    with h5py.File(path, "w") as f:
        for name, values in fields.items():
            f[name] = values
            f[name].attrs["units"] = units[name]
    return path


def _nan_h():
    h = np.full((6, 4, 4), 5000.0)
    h[3, 1, 2] = np.nan
    return h


BAD = {
    "missing h": ({"h": None}, "no depth"),
    "wrong shape": ({"h": np.ones((6, 5, 5))}, "has shape (6, 5, 5), expected (face, y, x)"),
    "wrong units": ({"h_units": "km"}, "variable 'h' is in 'km'"),
    "non-finite": ({"h": _nan_h()}, "non-finite"),
    "negative depth": ({"h": -np.ones((6, 4, 4))}, "negative depths"),
    "u without v": ({"v": None}, "has velocity 'u' but not all of u, v"),
    "mx alone": ({"mx": np.zeros((6, 4, 4))}, "has momentum 'mx' but not all of mx, my, mz"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_initial_file_is_one_line_and_status_2(name, tmp_path, capsys):
    changes, needle = BAD[name]
    path = bad_file(tmp_path / "in.h5", **changes)
    assert main([*RUN, "--t-end", "600", "--initial", str(path),
                 "--output", str(tmp_path / "out.h5")]) == 2
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1 and err.startswith("dycore: error: "), err
    assert "config key 'initial_file'" in err and needle in err, err
    assert "Traceback" not in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.h5"]


def test_tracer_key_is_checked():
    from dycore.config import Config, ConfigError

    with pytest.raises(ConfigError, match="config key 'tracer': the passive tracer is carried"):
        Config(case="dam_break", tracer=True).resolved()
    with pytest.raises(ConfigError, match="'williamson1' is itself"):
        Config(case="williamson1", nx=4, tracer=True).resolved()
    with pytest.raises(ConfigError, match="must be true or false"):
        Config(case="williamson2", nx=4, tracer="yes").resolved()
