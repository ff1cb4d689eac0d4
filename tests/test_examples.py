"""Smoke test of the hybrid-modelling examples (examples/, issue #4).

Runs the parameter-estimation example with ``--quick`` in a subprocess (one
process, no MPI) and checks that it meets its (quick) success criterion,
exit status 0, and writes its plot. Skipped unless the optional dependencies
of the examples (optax, matplotlib: ``pip install -e '.[examples]'``) are
installed. Also checks the examples' one-line refusal of bad input.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

missing = [m for m in ("optax", "matplotlib") if importlib.util.find_spec(m) is None]
needs_extras = pytest.mark.skipif(
    bool(missing), reason=f"optional dependencies of the examples not installed: "
                          f"{', '.join(missing)} (pip install -e '.[examples]')")


def run_example(name, *args, timeout=600):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMI_", "PMIX_"))}     # a plain single process
    return subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)


@needs_extras
def test_parameter_estimation_quick(tmp_path):
    png = tmp_path / "parameter_estimation.png"
    proc = run_example("parameter_estimation", "--quick", "--output", str(png))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert png.is_file() and png.stat().st_size > 1000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The printed result names what was recovered.
    assert "drag: true" in proc.stdout and "result: PASS" in proc.stdout


@pytest.mark.parametrize("name", ["parameter_estimation", "four_d_var", "neural_closure",
                                  "run_loop"])
def test_bad_argument_is_one_line_exit_2(name):
    proc = run_example(name, "--iterations", "-3", timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--iterations" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["parameter_estimation", "four_d_var"])
def test_window_not_a_multiple_of_the_observation_interval_is_refused(name):
    proc = run_example(name, "--steps", "7", "--obs-every", "6", timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "multiple of --obs-every" in lines[0], proc.stderr


def test_run_loop_example_quick(tmp_path):
    """The run-loop example needs no optional dependency: callbacks,
    diagnostics, an output file and a time-dependent forcing whose volume
    matches its exact integral."""
    h5 = tmp_path / "run_loop.h5"
    proc = run_example("run_loop", "--quick", "--h5", str(h5))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "result: PASS" in proc.stdout and "max Courant 0.450" in proc.stdout
    import h5py
    with h5py.File(h5, "r") as f:
        assert list(f["time"][:]) == [0.0, 3600.0, 7200.0, 10800.0]
