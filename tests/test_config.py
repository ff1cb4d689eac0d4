"""Configuration validation: bad values raise ConfigError with one line that
names the key and, for names, the valid choices (the driver turns it into
exit status 2; see test_driver.py)."""
import pytest

from dycore import Config, ConfigError, Simulation
from dycore.cases import CASES


def _error(**kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        Config(**kwargs).resolved()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_unknown_case_lists_valid_cases():
    message = _error(case="tsunami")
    assert "'case'" in message and "tsunami" in message
    for name in CASES:
        assert name in message


@pytest.mark.parametrize("key,value,valid", [
    ("scheme", "weno7", "muscl, weno5z"),
    ("limiter", "superbee", "minmod, mc, van_leer"),
    ("riemann", "roe", "rusanov, hll, hllc"),
    ("time_stepper", "euler", "ssp_rk2, ssp_rk3"),
    ("bc_west", "sponge", "periodic, wall, open"),
    ("dtype", "float16", "float64, float32"),
])
def test_unknown_names_list_valid_choices(key, value, valid):
    message = _error(**{key: value})
    assert repr(key) in message and valid in message


@pytest.mark.parametrize("key,value", [("nx", 0), ("ny", -3), ("lx", 0.0), ("ly", -1.0),
                                       ("t_end", 0), ("dt", -1e-3), ("cfl", 0),
                                       ("nx", 2.5), ("g", float("nan"))])
def test_non_positive_or_non_numeric_sizes(key, value):
    assert repr(key) in _error(**{key: value})


def test_negative_depth_names_the_parameter():
    message = _error(case="dam_break", case_params={"h_left": -1.0})
    assert "case_params.h_left" in message


def test_unknown_case_parameter_lists_valid_ones():
    message = _error(case="dam_break", case_params={"hleft": 1.0})
    assert "case_params.hleft" in message and "h_left" in message


def test_unknown_key_suggests_nearest():
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"nxx": 10})
    assert "'nxx'" in str(info.value) and "did you mean 'nx'" in str(info.value)


def test_one_sided_periodic_is_rejected():
    assert "periodic" in _error(case="unstable_jet", bc_west="wall")


def test_too_few_cells_for_a_periodic_halo():
    with pytest.raises(ConfigError, match="'ny'"):
        Simulation(Config(case="inertia_gravity_wave", nx=8, ny=2, scheme="weno5z"))


def test_case_defaults_fill_only_unset_keys():
    cfg = Config(case="dam_break", nx=50).resolved()
    assert cfg.nx == 50 and cfg.lx == 2.0 and cfg.bc_west == "open"
    assert cfg.case_params == {"variant": "stoker", "h_left": 0.005, "h_right": 0.001}


def test_toml_round_trip(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('case = "dam_break"\nnx = 40\n[case_params]\nvariant = "ritter"\n')
    cfg = Config.from_toml(path)
    assert cfg.nx == 40 and cfg.case_params == {"variant": "ritter"}
    bad = tmp_path / "bad.toml"
    bad.write_text("nx = = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_toml(bad)


def test_float32_runs_in_float32():
    sim = Simulation(Config(case="unstable_jet", nx=16, ny=16, dtype="float32"))
    state = sim.run(sim.initial_state(), 3)
    assert state.h.dtype.name == "float32" and sim.params.b.dtype.name == "float32"
