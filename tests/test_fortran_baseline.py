"""The Fortran+MPI baseline (benchmarks/fortran) against the JAX solver.

After 20 steps from the same initial.bin, the fields the baseline writes
with ``--final`` agree with ``Simulation.run`` to 1e-12 relative (max abs
difference over max abs, per field) for every process grid tried, including
uneven tiles on 3 and 4 ranks; with periodic, wall and open boundaries, with
beta-plane Coriolis and drag, and with waves running onto a dry island so
that the first-order fallback next to dry cells and the hydrostatic
reconstruction over a bed are exercised. Also: the float32 build stays
within single-precision round-off of float64, the timing mode prints the
protocol's JSON line, and bad input exits with status 2 and one line.

Serial pytest: the baseline runs under mpirun in a subprocess (built with
``make -s fortran``); skipped when mpif90 or mpirun is missing.
"""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.problem import read_fields, read_namelist, write_problem  # noqa: E402
from dycore import Config, Simulation  # noqa: E402
from dycore.state import State  # noqa: E402

EXE = ROOT / "benchmarks" / "fortran" / "build" / "swe_mpi"
STEPS = 20
TOLERANCE = 1e-12

pytestmark = pytest.mark.skipif(
    shutil.which("mpif90") is None or shutil.which("mpirun") is None,
    reason="the Fortran baseline needs mpif90 and mpirun")


@pytest.fixture(scope="module")
def exe():
    result = subprocess.run(["make", "-s", "fortran"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return EXE


def run(exe, directory, procs, *extra, steps=STEPS):
    n = procs[0] * procs[1]
    args = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(n), str(exe),
            str(directory), "--procs", str(procs[0]), str(procs[1]), "--steps", str(steps),
            *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def final_fields(exe, directory, procs, tmp_path, precision="float64"):
    out = tmp_path / f"final_{procs[0]}x{procs[1]}_{precision}.bin"
    result = run(exe, directory, procs, "--final", str(out), "--precision", precision)
    assert result.returncode == 0, result.stderr
    nml = read_namelist(directory / "problem.nml")
    return read_fields(out, nml["nx"], nml["ny"], 3)


def jax_reference(directory):
    """(initial, final) (3, ny, nx) fields of the JAX solver from initial.bin."""
    cfg = Config.from_dict(json.loads((directory / "config.json").read_text()))
    nml = read_namelist(directory / "problem.nml")
    fields = read_fields(directory / "initial.bin", nml["nx"], nml["ny"], 4)
    sim = Simulation(cfg, comm=None)
    state = State(*(jnp.asarray(q) for q in fields[:3]))
    out = sim.run(state, STEPS, sim.params.replace(b=jnp.asarray(fields[3])))
    return fields[:3], np.stack([np.asarray(q) for q in (out.h, out.hu, out.hv)])


def assert_agrees(got, ref, tol=TOLERANCE):
    for name, g, r in zip(("h", "hu", "hv"), got, ref):
        diff = float(np.max(np.abs(g - r)))
        scale = float(np.max(np.abs(r)))
        assert diff <= tol * scale, f"{name}: max diff {diff:.3e}, max |ref| {scale:.3e}"


def make_problem(directory, **config):
    write_problem(directory, Config(**config))
    initial, ref = jax_reference(directory)
    # The comparison means something only if the run moved the fields.
    assert np.max(np.abs(ref[0] - initial[0])) > 1e-6 * np.max(np.abs(initial[0]))
    return directory, ref


@pytest.fixture(scope="module")
def beta_jet(tmp_path_factory):
    """Jet on a 37 x 29 grid (periodic x, walls y), beta plane, linear and
    quadratic drag: uneven tiles for every process grid below."""
    return make_problem(tmp_path_factory.mktemp("beta_jet"), case="unstable_jet", nx=37,
                        ny=29, beta=1.6e-11, drag_linear=1e-6, drag_quadratic=2e-3)


@pytest.fixture(scope="module")
def island(tmp_path_factory):
    """Lake over a bump that sticks out of the water (dry island, walls all
    round), with a surface hump and a current so waves run onto the island."""
    directory = tmp_path_factory.mktemp("island")
    config = dict(case="lake_at_rest", nx=30, ny=26,
                  case_params={"amplitude": 1.3, "surface": 1.0})
    values = write_problem(directory, Config(**config))
    nx, ny = values["nx"], values["ny"]
    fields = read_fields(directory / "initial.bin", nx, ny, 4).copy()
    x = -0.5 + (np.arange(nx) + 0.5) / nx
    y = -0.5 + (np.arange(ny) + 0.5) / ny
    X, Y = np.meshgrid(x, y)
    wet = fields[0] > 0
    fields[0] = np.where(wet, fields[0] + 0.1 * np.exp(-50 * ((X + 0.3) ** 2 + (Y - 0.2) ** 2)),
                         0.0)
    fields[1] = 0.05 * fields[0]
    fields.astype("<f8").tofile(directory / "initial.bin")
    initial, ref = jax_reference(directory)
    assert np.sum(ref[0] <= 1e-10) >= 4, "the island must stay dry"
    assert np.max(np.abs(ref[0] - initial[0])) > 1e-3
    return directory, ref


@pytest.fixture(scope="module")
def ritter(tmp_path_factory):
    """Dam break onto a dry bed (open x), wall south and open north."""
    return make_problem(tmp_path_factory.mktemp("ritter"), case="dam_break", nx=50, ny=6,
                        case_params={"variant": "ritter"}, bc_south="wall", bc_north="open")


@pytest.mark.parametrize("procs", [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2)])
def test_beta_jet_agrees_with_jax(exe, beta_jet, procs, tmp_path):
    directory, ref = beta_jet
    assert_agrees(final_fields(exe, directory, procs, tmp_path), ref)


@pytest.mark.parametrize("procs", [(1, 1), (2, 2), (1, 3)])
def test_dry_island_agrees_with_jax(exe, island, procs, tmp_path):
    directory, ref = island
    got = final_fields(exe, directory, procs, tmp_path)
    assert_agrees(got, ref)
    assert np.array_equal(got[0] <= 1e-10, ref[0] <= 1e-10)


@pytest.mark.parametrize("procs", [(1, 1), (3, 1)])
def test_dam_break_onto_dry_bed_agrees_with_jax(exe, ritter, procs, tmp_path):
    directory, ref = ritter
    assert_agrees(final_fields(exe, directory, procs, tmp_path), ref)


def test_float32_is_single_precision_close(exe, beta_jet, tmp_path):
    directory, ref = beta_jet
    got = final_fields(exe, directory, (2, 1), tmp_path, precision="float32")
    assert_agrees(got, ref, tol=1e-4)
    # ... and really ran in single precision (not the float64 kernel).
    assert float(np.max(np.abs(got[0] - ref[0]))) > 1e-10 * float(np.max(ref[0]))


def test_timing_mode_prints_the_json_line(exe, beta_jet):
    directory, _ = beta_jet
    result = run(exe, directory, (2, 1), "--warmup", "1", "--repeats", "2", steps=2)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["impl"] == "fortran" and record["ranks"] == 2 and record["procs"] == [2, 1]
    assert (record["nx"], record["ny"], record["steps"]) == (37, 29, 2)
    assert record["precision"] == "float64"
    assert len(record["repeat_seconds"]) == 2 and all(t > 0 for t in record["repeat_seconds"])
    assert len(record["peak_rss_mib"]) == 2 and all(m > 0 for m in record["peak_rss_mib"])


@pytest.mark.parametrize("extra,words", [
    (("--precision", "float16"), "--precision"),
    (("--steps", "-3"), "--steps"),
    (("--bogus",), "--bogus"),
])
def test_bad_arguments_exit_2_with_one_line(exe, beta_jet, extra, words):
    directory, _ = beta_jet
    result = subprocess.run([str(exe), str(directory), "--procs", "1", "1", "--steps", "1",
                             *extra], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("swe_mpi: ") and words in lines[0]
    assert result.stdout == ""


def test_wrong_rank_count_and_unknown_scheme_exit_2(exe, beta_jet, tmp_path):
    directory, _ = beta_jet
    wrong = subprocess.run([str(exe), str(directory), "--procs", "2", "1", "--steps", "1"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "2x1 process grid needs 2 MPI ranks" in wrong.stderr
    bad = tmp_path / "rusanov"
    shutil.copytree(directory, bad)
    nml = (bad / "problem.nml").read_text().replace("'hllc'", "'rusanov'")
    (bad / "problem.nml").write_text(nml)
    refused = subprocess.run([str(exe), str(bad), "--procs", "1", "1", "--steps", "1"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "rusanov" in refused.stderr
