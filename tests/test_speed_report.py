"""benchmarks.speed's summary: the ratios it prints are those of the parts'
own results (read from the committed results files, not re-measured)."""
from __future__ import annotations

import json
import pathlib

import pytest

from benchmarks.speed import forward_rows, summary_lines

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def _load(name):
    path = RESULTS / name
    if not path.exists():
        pytest.skip(f"{name} is not committed")
    return json.loads(path.read_text())


def test_forward_ratios_are_those_of_the_points():
    points = _load("cpu_session10.json")["points"]
    rows = forward_rows(points)
    assert {(r["grid"], r["precision"]) for r in rows} == {
        (f"{p['nx']}x{p['ny']}", p["precision"]) for p in points if p["status"] == "ok"}
    for r in rows:
        mine = {p["impl"]: p["ms_per_step_per_mcell"] for p in points
                if f"{p['nx']}x{p['ny']}" == r["grid"] and p["precision"] == r["precision"]}
        assert r["jax_over_fortran"] == pytest.approx(mine["jax"] / mine["fortran"], rel=1e-12)
        assert r["numpy_over_jax"] == pytest.approx(mine["numpy"] / mine["jax"], rel=1e-12)


def test_missing_or_failed_points_give_no_ratio():
    rows = forward_rows([
        {"impl": "jax", "ranks": 1, "nx": 8, "ny": 8, "precision": "float64", "status": "ok",
         "ms_per_step_per_mcell": 2.0},
        {"impl": "fortran", "ranks": 1, "nx": 8, "ny": 8, "precision": "float64",
         "status": "timeout"},
        {"impl": "numpy", "ranks": 2, "nx": 8, "ny": 8, "precision": "float64", "status": "ok",
         "ms_per_step_per_mcell": 3.0}])
    assert rows == [{"grid": "8x8", "precision": "float64",
                     "ms_per_step_per_mcell": {"jax": 2.0},
                     "jax_over_fortran": None, "numpy_over_jax": None}]


def test_summary_names_every_figure():
    rows = forward_rows(_load("cpu_session10.json")["points"])
    gradient, compile_times = _load("gradient.json"), _load("compile_time.json")
    text = "\n".join(summary_lines(rows, gradient, compile_times))
    for mode in ("None", "step", "nested"):
        assert f"| {mode} | " in text
    assert f"{gradient['timing']['ratio_step']:.2f}" in text
    assert f"{compile_times['startup']['warm_s']:.2f} s with a filled one" in text
    assert text.count("| float32 |") == 2 and text.count("| float64 |") == 2
