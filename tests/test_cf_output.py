"""CF-1.11 output (issue 14, item 2), read as users read it: xarray with
the h5netcdf engine, checked against the CF rules implemented here:

- global attributes Conventions = "CF-1.11", title, history, source
  (CF 2.6.2);
- every variable has units and long_name; a standard_name, where given,
  is one of STANDARD_NAMES (taken from the CF standard-name table);
- units parse: time as "<unit> since YYYY-MM-DD[ HH:MM:SS]" with a CF
  calendar (CF 4.4), others as products of powers of m and s (UDUNITS);
- every dimension of every variable has a coordinate variable with
  ``axis`` (X, Y, T) and units (CF 4, 5);
- no HDF5 bookkeeping attribute (DIMENSION_LABELS, REFERENCE_LIST, ...)
  shows in xarray's attrs;
- the derived fields (config key ``outputs``) hold what they say.
"""
from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

import dycore
from dycore.config import Config, ConfigError
from dycore.diagnostics import DERIVED
from dycore.io import consolidate
from dycore.io.layout import HDF5_INTERNAL
from dycore.io.model import open_output
from dycore.state import State
from tests.test_io import fake_ranks, local, on_ranks

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")

STANDARD_NAMES = {"time", "projection_x_coordinate", "projection_y_coordinate",
                  "sea_floor_depth_below_sea_surface", "sea_water_x_velocity",
                  "sea_water_y_velocity"}
"""The CF standard names this output may use (each in the CF standard-name
table with the meaning used here)."""

CALENDARS = {"standard", "gregorian", "proleptic_gregorian", "julian", "noleap", "365_day",
             "all_leap", "366_day", "360_day", "none"}
TIME_UNITS = re.compile(r"(seconds|minutes|hours|days) since \d{4}-\d\d-\d\d( \d\d:\d\d:\d\d)?")
UNIT_TOKEN = re.compile(r"(m|s)(-?\d+)?|1")

CONFIG = Config(case="unstable_jet", nx=12, ny=9, dt=300.0, time_stepper="ssp_rk2",
                outputs=list(DERIVED))


def check_cf(ds) -> list[str]:
    """Every violation of the rules above in an xarray Dataset (opened with
    ``decode_times=False``, so that time's attributes stay visible)."""
    problems = []
    if ds.attrs.get("Conventions") != "CF-1.11":
        problems.append(f"Conventions is {ds.attrs.get('Conventions')!r}")
    for key in ("title", "history", "source"):
        if not isinstance(ds.attrs.get(key), str) or not ds.attrs[key]:
            problems.append(f"global attribute {key!r} missing or empty")
    for name, var in ds.variables.items():
        attrs = var.attrs
        for key in ("units", "long_name"):
            if key not in attrs:
                problems.append(f"{name}: no {key}")
        if "standard_name" in attrs and attrs["standard_name"] not in STANDARD_NAMES:
            problems.append(f"{name}: standard_name {attrs['standard_name']!r} not in the list")
        units = str(attrs.get("units", ""))
        if name == "time":
            if not TIME_UNITS.fullmatch(units):
                problems.append(f"time: units {units!r} are not '<unit> since <date>'")
            if attrs.get("calendar") not in CALENDARS:
                problems.append(f"time: calendar {attrs.get('calendar')!r}")
        elif not all(UNIT_TOKEN.fullmatch(t) for t in units.split()):
            problems.append(f"{name}: units {units!r} do not parse")
        for dim in var.dims:
            if dim not in ds.variables:
                problems.append(f"{name}: dimension {dim!r} has no coordinate variable")
            elif ds[dim].attrs.get("axis") not in {"X", "Y", "T"}:
                problems.append(f"coordinate {dim!r} has no axis")
        leaked = set(attrs) & HDF5_INTERNAL
        if leaked:
            problems.append(f"{name}: HDF5 attributes leak: {sorted(leaked)}")
    leaked = set(ds.attrs) & HDF5_INTERNAL
    if leaked:
        problems.append(f"global HDF5 attributes leak: {sorted(leaked)}")
    return problems


def test_the_checker_catches_what_it_checks(tmp_path):
    ds = xr.Dataset({"q": (("y",), np.zeros(2), {"units": "m/s", "standard_name": "wind",
                                                  "DIMENSION_LABELS": "y"})},
                    attrs={"Conventions": "CF-1.6"})
    text = " ".join(check_cf(ds))
    for part in ("Conventions", "'title'", "q: no long_name", "'wind' not in", "'m/s'",
                 "no coordinate variable", "leak"):
        assert part in text


@pytest.fixture(scope="module")
def sim():
    return dycore.Simulation(CONFIG)


def shear_state(sim, a=2e-6, c=-3e-6):
    """Depth 100 m, u = a y, v = c x: relative vorticity c - a exactly (s-1)."""
    x, y = np.meshgrid(sim.x, sim.y)
    h = np.full(x.shape, 100.0)
    return State(jnp.asarray(h), jnp.asarray(h * a * y), jnp.asarray(h * c * x))


@pytest.fixture(scope="module")
def serial_file(tmp_path_factory, sim):
    path = tmp_path_factory.mktemp("cf") / "out.h5"
    with open_output(path, sim) as w:
        w.write(sim.initial_state(), 0.0)
        w.write(shear_state(sim), 3600.0)
    return path


def test_output_follows_the_cf_rules(serial_file):
    with xr.open_dataset(serial_file, engine="h5netcdf", decode_times=False) as ds:
        assert check_cf(ds) == []
        assert set(ds.data_vars) >= {"h", "hu", "hv", "b", *DERIVED}
        assert ds["h"].dims == ("time", "y", "x") and ds["b"].dims == ("y", "x")
        assert ds["time"].attrs["units"] == "seconds since 2000-01-01 00:00:00"
        assert ds["x"].attrs["standard_name"] == "projection_x_coordinate"


def test_time_decodes_to_dates(serial_file):
    with xr.open_dataset(serial_file, engine="h5netcdf") as ds:
        np.testing.assert_array_equal(
            ds["time"].values, np.array(["2000-01-01T00:00", "2000-01-01T01:00"],
                                        dtype="datetime64[ns]"))


def test_derived_fields_hold_what_they_say(serial_file, sim):
    with xr.open_dataset(serial_file, engine="h5netcdf") as ds:
        frame = ds.isel(time=1)
        h, hu, hv, b = (frame[n].values for n in ("h", "hu", "hv", "b"))
        np.testing.assert_array_equal(frame["u"].values, hu / h)
        np.testing.assert_array_equal(frame["v"].values, hv / h)
        np.testing.assert_array_equal(frame["eta"].values, h + b)
        zeta = frame["vorticity"].values
        np.testing.assert_allclose(zeta[1:-1, 1:-1], -3e-6 - 2e-6, rtol=1e-9)
        f = float(sim.params.f0) + float(sim.params.beta) * (sim.y - sim.grid.y_mid)[:, None]
        np.testing.assert_allclose(frame["pv"].values, (zeta + f) / h, rtol=1e-12)
        u, v = hu / h, hv / h
        g = float(sim.params.g)
        np.testing.assert_allclose(frame["energy"].values,
                                   0.5 * h * (u * u + v * v) + g * h * (h / 2 + b), rtol=1e-14)
        for name, field in DERIVED.items():
            assert frame[name].attrs["units"] == field.units


def test_tiled_and_consolidated_files_follow_the_cf_rules(tmp_path, sim):
    plain = dycore.Simulation(CONFIG.replace(outputs=[]))

    def job(r):
        with open_output(tmp_path / "tiled.h5", r) as w:
            w.write(local(plain.initial_state(), r.tile), 0.0)

    on_ranks(job, fake_ranks(plain, 2, 2))
    consolidate(tmp_path / "tiled.h5", tmp_path / "single.h5")
    for name in ("tiled.h5", "single.h5"):
        with xr.open_dataset(tmp_path / name, engine="h5netcdf", decode_times=False) as ds:
            assert check_cf(ds) == [], name
            np.testing.assert_array_equal(ds["h"].values[0], np.asarray(plain.initial_state().h))


def test_start_date_sets_the_time_origin(tmp_path):
    other = dycore.Simulation(CONFIG.replace(outputs=["u"], start_date="2024-02-29 12:00:00"))
    with open_output(tmp_path / "o.h5", other) as w:
        w.write(other.initial_state(), 0.0)
    with xr.open_dataset(tmp_path / "o.h5", engine="h5netcdf") as ds:
        assert ds["time"].values[0] == np.datetime64("2024-02-29T12:00")
        assert "vorticity" not in ds and "u" in ds


@pytest.mark.parametrize("changes,match", [({"outputs": ["speed"]}, "'outputs': unknown"),
                                           ({"outputs": "u"}, "list of names"),
                                           ({"outputs": ["u", "u"]}, "twice"),
                                           ({"start_date": "yesterday"}, "'start_date'"),
                                           ({"start_date": "2000-13-01"}, "'start_date'")])
def test_bad_outputs_and_start_date(changes, match):
    with pytest.raises(ConfigError, match=match):
        CONFIG.replace(**changes).resolved()
