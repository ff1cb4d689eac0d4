"""Initial state and bed from a file (config key ``initial_file``, flag
``--initial``), and the bed actually used in output and restart files
(issue 14, item 1: a bed set with ``params.replace(b=...)`` used to be lost:
the output held the case's bed, the restart file none, and a restarted run
went on over the case's bed).
"""
from __future__ import annotations

import h5py
import jax.numpy as jnp
import numpy as np
import pytest

import dycore
from dycore.config import Config, ConfigError
from dycore.io.model import open_output, restore, save_restart
from dycore.io.restart import write_restart
from dycore.io.initial import parse_units
from tests.test_io import fake_ranks, local, on_ranks

CONFIG = Config(case="unstable_jet", nx=12, ny=9, dt=300.0, time_stepper="ssp_rk2")
FIELDS = ("h", "hu", "hv")


@pytest.fixture(scope="module")
def sim():
    return dycore.Simulation(CONFIG)


def custom_bed(sim):
    """A bed no case makes: a smooth bump plus cell-to-cell noise (m)."""
    x, y = np.meshgrid(sim.grid.x_centres(), sim.grid.y_centres())
    rng = np.random.default_rng(14)
    bump = 3.0 * np.exp(-((x - x.mean()) ** 2 + (y - y.mean()) ** 2) / (0.2 * x.max()) ** 2)
    return bump + 0.01 * rng.standard_normal(x.shape)


def write_fields(path, grid, units=None, coords=True, **fields):
    """A CF-like file on ``grid``: x, y coordinates and the (y, x) fields given."""
    units = units or {}
    with h5py.File(path, "w") as f:
        if coords:
            for name, values in (("x", grid.x_centres()), ("y", grid.y_centres())):
                f[name] = values
                f[name].attrs["units"] = "m"
        for name, values in fields.items():
            f[name] = values
            f[name].attrs["units"] = units.get(name, {"u": "m/s", "v": "m s-1", "hu": "m2 s-1",
                                                      "hv": "m^2/s"}.get(name, "m"))


# ---------------------------------------------------------------- the bed bug
def test_custom_bed_is_written_to_the_output(tmp_path, sim):
    b = custom_bed(sim)
    params = sim.params.replace(b=jnp.asarray(b))
    with open_output(tmp_path / "o.h5", sim, params) as w:
        w.write(sim.initial_state(), 0.0)
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["b"][()], b)
        assert not np.array_equal(f["b"][()], np.asarray(sim.params.b))


def test_custom_bed_survives_a_restart_bit_for_bit(tmp_path, sim):
    params = sim.params.replace(b=jnp.asarray(custom_bed(sim)))
    middle = sim.run(sim.initial_state(), 3, params)
    save_restart(tmp_path / "ck.h5", sim, middle, 900.0, 3, params=params)
    back = restore(tmp_path / "ck.h5", sim)
    assert (back.t, back.step) == (900.0, 3)
    np.testing.assert_array_equal(np.asarray(back.params.b), np.asarray(params.b))
    assert back.params.b.dtype == sim.dtype
    final = sim.run(back.state, 3, back.params)
    want = sim.run(sim.initial_state(), 6, params)
    over_case_bed = sim.run(back.state, 3, sim.params)
    for name in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(final, name)),
                                      np.asarray(getattr(want, name)))
    assert not np.array_equal(np.asarray(over_case_bed.hu), np.asarray(want.hu))


@pytest.mark.parametrize("write_grid,read_grid", [((1, 1), (2, 2)), ((3, 2), (1, 1)),
                                                  ((2, 1), (1, 3))])
def test_custom_bed_restored_on_another_rank_count(tmp_path, sim, write_grid, read_grid):
    b = custom_bed(sim)
    params = sim.params.replace(b=jnp.asarray(b))
    state = sim.initial_state()
    path = tmp_path / "ck.h5"
    if write_grid == (1, 1):
        save_restart(path, sim, state, 1.0, 1, params=params)
    else:
        on_ranks(lambda r: save_restart(path, r, local(state, r.tile), 1.0, 1,
                                        params=r.params.__class__(b=r.tile.take(b))),
                 fake_ranks(sim, *write_grid))
    if read_grid == (1, 1):
        results, tiles = [restore(path, sim)], [sim.tile]
    else:
        ranks = fake_ranks(sim, *read_grid)
        results, tiles = on_ranks(lambda r: restore(path, r), ranks), [r.tile for r in ranks]
    for back, tile in zip(results, tiles):
        np.testing.assert_array_equal(np.asarray(back.params.b), tile.take(b))


def test_tiled_output_holds_the_custom_bed(tmp_path, sim):
    b = custom_bed(sim)

    def job(r):
        with open_output(tmp_path / "o.h5", r, r.params.__class__(b=r.tile.take(b))) as w:
            w.write(local(sim.initial_state(), r.tile), 0.0)

    on_ranks(job, fake_ranks(sim, 2, 2))
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["b"][()], b)


def test_restart_without_stored_parameters_keeps_the_simulations_bed(tmp_path, sim):
    """Files written before the bed was stored still restart (over the bed
    the Simulation has, as they did)."""
    from dycore.io.model import fields_of, root_attrs

    write_restart(tmp_path / "old.h5", sim.context, sim.grid, sim.tile, fields_of(sim),
                  sim.initial_state(), 0.0, 0, root_attrs(sim), sim.dtype)
    back = restore(tmp_path / "old.h5", sim)
    assert back.params is sim.params


def test_cli_restart_goes_on_over_the_bed_of_the_initial_file(tmp_path, sim):
    """End to end through the driver: --initial with a custom bed, a
    checkpoint, --restart without --initial: both outputs hold the custom
    bed and the restarted run equals the uninterrupted one."""
    from dycore.run import main

    b = custom_bed(sim)
    h = np.asarray(sim.initial_state().h) + 5.0 - b
    write_fields(tmp_path / "init.h5", sim.grid, h=h, b=b)
    common = ["--case", "unstable_jet", "--nx", "12", "--ny", "9", "--dt", "300",
              "--time-stepper", "ssp_rk2", "--output-interval", "900", "--quiet"]
    assert main([str(a) for a in [*common, "--initial", tmp_path / "init.h5", "--t-end", "1800",
                 "--output", tmp_path / "a.h5", "--checkpoint", tmp_path / "ck.h5",
                 "--checkpoint-interval", "900"]]) == 0
    assert main([str(a) for a in [*common, "--restart", tmp_path / "ck.h5", "--t-end", "2700",
                 "--output", tmp_path / "b.h5", "--checkpoint", tmp_path / "ck2.h5"]]) == 0
    params = sim.params.replace(b=jnp.asarray(b))
    start = sim.initial_state().replace(h=jnp.asarray(h), hu=jnp.zeros_like(h),
                                        hv=jnp.zeros_like(h))
    want = sim.run(start, 9, params)
    with h5py.File(tmp_path / "a.h5") as fa, h5py.File(tmp_path / "b.h5") as fb:
        np.testing.assert_array_equal(fa["b"][()], b)
        np.testing.assert_array_equal(fb["b"][()], b)
        np.testing.assert_array_equal(fa["h"][0], h)
        np.testing.assert_array_equal(fb["h"][-1], np.asarray(want.h))
        np.testing.assert_array_equal(fb["hu"][-1], np.asarray(want.hu))
    assert main([str(a) for a in [*common, "--restart", tmp_path / "ck.h5", "--initial",
                                  tmp_path / "init.h5", "--t-end", "2700"]]) == 2


# ------------------------------------------------------------- initial_file
def test_initial_state_and_bed_from_a_file(tmp_path, sim):
    rng = np.random.default_rng(1)
    shape = (sim.grid.ny, sim.grid.nx)
    h, u, v, b = (100 + rng.random(shape), rng.random(shape), rng.random(shape),
                  custom_bed(sim))
    write_fields(tmp_path / "in.h5", sim.grid, h=h, u=u, v=v, b=b)
    other = dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "in.h5")))
    s = other.initial_state()
    np.testing.assert_array_equal(np.asarray(s.h), h)
    np.testing.assert_array_equal(np.asarray(s.hu), h * u)
    np.testing.assert_array_equal(np.asarray(s.hv), h * v)
    np.testing.assert_array_equal(np.asarray(other.params.b), b)


def test_surface_elevation_and_momenta_from_a_file(tmp_path, sim):
    b = custom_bed(sim)
    eta = np.full(b.shape, 104.0)
    hu = np.ones_like(b)
    write_fields(tmp_path / "in.h5", sim.grid, eta=eta, b=b, hu=hu, hv=-hu)
    other = dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "in.h5")))
    s = other.initial_state()
    np.testing.assert_array_equal(np.asarray(s.h), eta - b)
    np.testing.assert_array_equal(np.asarray(s.hv), -hu)


def test_last_frame_of_an_output_file_starts_a_run(tmp_path, sim):
    params = sim.params.replace(b=jnp.asarray(custom_bed(sim)))
    s1 = sim.run(sim.initial_state(), 2, params)
    with open_output(tmp_path / "o.h5", sim, params) as w:
        w.write(sim.initial_state(), 0.0)
        w.write(s1, 600.0)
    other = dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "o.h5")))
    for name in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(other.initial_state(), name)),
                                      np.asarray(getattr(s1, name)))
    np.testing.assert_array_equal(np.asarray(other.params.b), np.asarray(params.b))


def test_velocities_absent_means_at_rest_and_bed_absent_the_cases(tmp_path, sim):
    h = np.full((sim.grid.ny, sim.grid.nx), 50.0)
    write_fields(tmp_path / "in.h5", sim.grid, coords=False, h=h)
    other = dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "in.h5")))
    assert not np.any(np.asarray(other.initial_state().hu))
    np.testing.assert_array_equal(np.asarray(other.params.b), np.asarray(sim.params.b))


def _error(tmp_path, **kw):
    write_fields(tmp_path / "bad.h5", dycore.Simulation(CONFIG).grid, **kw)
    with pytest.raises(ConfigError) as info:
        dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "bad.h5")))
    text = str(info.value)
    assert "\n" not in text and text.startswith("config key 'initial_file'")
    return text


def test_initial_file_errors_are_one_line(tmp_path, sim):
    shape = (sim.grid.ny, sim.grid.nx)
    good = np.full(shape, 10.0)
    assert "no depth" in _error(tmp_path, b=good)
    assert "shape (12, 9)" in _error(tmp_path, h=good.T)
    assert "in 'cm'" in _error(tmp_path, h=good, units={"h": "cm"})
    bad = good.copy()
    bad[2, 3] = np.nan
    assert "non-finite" in _error(tmp_path, h=bad)
    assert "negative depths" in _error(tmp_path, h=good - 20)
    assert "below the bed" in _error(tmp_path, eta=good, b=good + 1)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ConfigError, match="not a netCDF-4/HDF5 file"):
        dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "text.h5")))
    with pytest.raises(ConfigError, match="not found"):
        dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "nope.h5")))
    with pytest.raises(ConfigError, match="coordinate 'x'"):
        dycore.Simulation(CONFIG.replace(initial_file=str(tmp_path / "bad.h5"), x0=1e5))


def test_one_velocity_component_alone_is_an_error(tmp_path, sim):
    good = np.full((sim.grid.ny, sim.grid.nx), 10.0)
    assert "velocity 'u' but not u, v" in _error(tmp_path, h=good, u=good)
    assert "'hu' but not all of hu, hv" in _error(tmp_path, h=good, hu=good)


def test_units_parser():
    assert parse_units("m2 s-1") == parse_units("m^2/s") == parse_units("m**2.s**-1") == \
        {"m": 2, "s": -1}
    assert parse_units("metres") == {"m": 1}
    assert parse_units("m s-1") == parse_units("m/s") == {"m": 1, "s": -1}
    assert parse_units("km") is None and parse_units("cm/s") is None


def test_initial_file_is_a_path():
    with pytest.raises(ConfigError, match="'initial_file': must be a file path"):
        Config(initial_file=3).resolved()
