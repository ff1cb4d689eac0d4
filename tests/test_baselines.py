"""The NumPy+MPI and Fortran+MPI baselines solve the same problem as the JAX
solver: after 20 steps from the same initial.bin their fields agree with
``Simulation.run`` to 1e-12 relative (max abs difference over max abs of
each field), on 1 and 2 ranks, with periodic, wall and open boundaries and
with dry cells. The baselines run as subprocesses (mpirun); the JAX
reference runs in this process, serially.
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

from benchmarks.problem import (benchmark_config, read_fields, read_namelist,  # noqa: E402
                                write_problem)
from dycore import Config, Simulation  # noqa: E402
from dycore.state import State  # noqa: E402

FORTRAN_EXE = ROOT / "benchmarks" / "fortran" / "build" / "swe_mpi"
STEPS = 20
TOLERANCE = 1e-12

MPIRUN = shutil.which("mpirun")
needs_mpirun = pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")


def mpirun_prefix(n: int) -> list[str]:
    return [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", str(n)]


def jax_reference(directory: pathlib.Path, steps: int = STEPS):
    """(initial (3, ny, nx), final (3, ny, nx)) of the JAX solver from initial.bin."""
    cfg = Config.from_dict(json.loads((directory / "config.json").read_text()))
    nml = read_namelist(directory / "problem.nml")
    sim = Simulation(cfg)
    fields = read_fields(directory / "initial.bin", nml["nx"], nml["ny"], 4)
    state = State(*(jnp.asarray(q) for q in fields[:3]))
    out = sim.run(state, steps, sim.params.replace(b=jnp.asarray(fields[3])))
    return fields[:3], np.stack([np.asarray(out.h), np.asarray(out.hu), np.asarray(out.hv)])


def relative_errors(got, ref):
    """Per field: max |got - ref| / max |ref| (0 when both vanish)."""
    out = []
    for g, r in zip(got, ref):
        diff = float(np.max(np.abs(g - r)))
        scale = float(np.max(np.abs(r)))
        out.append(diff / scale if scale > 0 else (0.0 if diff == 0 else np.inf))
    return out


def run_baseline(command, directory, n, procs, tmp_path, tag):
    final = tmp_path / f"final_{tag}_{n}_{procs[0]}x{procs[1]}.bin"
    args = mpirun_prefix(n) + command + [str(directory), "--procs", str(procs[0]),
                                         str(procs[1]), "--steps", str(STEPS),
                                         "--final", str(final)]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    nml = read_namelist(directory / "problem.nml")
    return read_fields(final, nml["nx"], nml["ny"], 3)


NUMPY = [sys.executable, "-m", "benchmarks.numpy_swe"]


@pytest.fixture(scope="module")
def jet(tmp_path_factory):
    """The benchmark problem on an uneven 48 x 40 grid (periodic x, walls y)."""
    directory = tmp_path_factory.mktemp("jet")
    write_problem(directory, benchmark_config(48, 40))
    initial, final = jax_reference(directory)
    return directory, initial, final


@pytest.fixture(scope="module")
def fortran_exe():
    """The Fortran baseline, built with ``make -s fortran`` (skip if that fails)."""
    if shutil.which("mpif90") is None:
        pytest.skip("mpif90 not found: the Fortran baseline cannot be built")
    result = subprocess.run(["make", "-s", "fortran"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0 or not FORTRAN_EXE.exists():
        pytest.skip(f"make -s fortran failed: {(result.stderr or result.stdout).strip()[:200]}")
    return [str(FORTRAN_EXE)]


def test_reference_run_moves(jet):
    """Guard: 20 steps change the state, so agreement below is not trivial."""
    _, initial, final = jet
    assert max(relative_errors(final, initial)) > 1e-6


@needs_mpirun
@pytest.mark.parametrize("n, procs", [(1, (1, 1)), (2, (2, 1))])
def test_numpy_agrees_with_jax(jet, tmp_path, n, procs):
    directory, _, ref = jet
    got = run_baseline(NUMPY, directory, n, procs, tmp_path, "numpy")
    assert max(relative_errors(got, ref)) <= TOLERANCE


@needs_mpirun
@pytest.mark.parametrize("n, procs", [(1, (1, 1)), (2, (2, 1))])
def test_fortran_agrees_with_jax(jet, fortran_exe, tmp_path, n, procs):
    directory, _, ref = jet
    got = run_baseline(fortran_exe, directory, n, procs, tmp_path, "fortran")
    assert max(relative_errors(got, ref)) <= TOLERANCE


@needs_mpirun
def test_jax_bench_on_two_ranks_matches_serial_jax(jet, tmp_path):
    """The JAX side of the protocol: its tile of initial.bin, 2 ranks, gathered
    --final output, JSON line on stdout."""
    directory, _, ref = jet
    final = tmp_path / "final_jax.bin"
    result = subprocess.run(mpirun_prefix(2) + [
        sys.executable, "-m", "benchmarks.jax_bench", str(directory), "--procs", "1", "2",
        "--steps", str(STEPS), "--final", str(final)], cwd=ROOT, capture_output=True,
        text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["impl"] == "jax" and record["ranks"] == 2 and record["procs"] == [1, 2]
    got = read_fields(final, 48, 40, 3)
    assert max(relative_errors(got, ref)) <= TOLERANCE


def test_jax_bench_refuses_bad_procs(jet):
    result = subprocess.run([sys.executable, "-m", "benchmarks.jax_bench", str(jet[0]),
                             "--procs", "2", "2", "--steps", "1"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jax_bench: error:")


@needs_mpirun
def test_numpy_float32_follows_jax_float32(jet, tmp_path):
    """--precision float32 computes in single precision like the JAX solver's
    dtype = "float32": closer to JAX float32 than either is to float64."""
    directory, _, ref64 = jet
    cfg = Config.from_dict({**json.loads((directory / "config.json").read_text()),
                            "dtype": "float32"})
    sim = Simulation(cfg)
    fields = read_fields(directory / "initial.bin", cfg.nx, cfg.ny, 4)
    state = State(*(jnp.asarray(q, jnp.float32) for q in fields[:3]))
    out = sim.run(state, STEPS, sim.params.replace(b=jnp.asarray(fields[3], jnp.float32)))
    ref32 = np.stack([np.asarray(q, np.float64) for q in (out.h, out.hu, out.hv)])
    final = tmp_path / "final32.bin"
    result = subprocess.run(mpirun_prefix(2) + NUMPY + [
        str(directory), "--procs", "1", "2", "--steps", str(STEPS), "--final", str(final),
        "--precision", "float32"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    got = read_fields(final, cfg.nx, cfg.ny, 3)
    single_vs_double = relative_errors(ref32, ref64)
    assert max(single_vs_double) > 1e-9  # float32 really is less accurate
    for err, gap in zip(relative_errors(got, ref32), single_vs_double):
        assert err < 0.5 * gap


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    """Problems that exercise the physical boundaries: the jet with a wall on
    the west and an open east side (walls in y), and a dry-bed (Ritter) dam
    break with walls in y and open ends in x (dry cells, first-order fallback,
    dry-front wave speeds)."""
    problems = {}
    jet_dir = tmp_path_factory.mktemp("jet_wall_open")
    write_problem(jet_dir, benchmark_config(32, 24, bc_west="wall", bc_east="open"))
    dam_dir = tmp_path_factory.mktemp("ritter")
    write_problem(dam_dir, Config(case="dam_break", nx=40, ny=6, bc_south="wall",
                                  bc_north="wall", case_params={"variant": "ritter"}))
    for name, directory in (("jet_wall_open", jet_dir), ("ritter", dam_dir)):
        problems[name] = (directory,) + jax_reference(directory)
    return problems


@needs_mpirun
@pytest.mark.parametrize("name", ["jet_wall_open", "ritter"])
@pytest.mark.parametrize("n, procs", [(1, (1, 1)), (2, (1, 2)), (2, (2, 1))])
def test_numpy_boundaries_agree_with_jax(edges, tmp_path, name, n, procs):
    directory, initial, ref = edges[name]
    assert max(relative_errors(ref, initial)) > 1e-6
    got = run_baseline(NUMPY, directory, n, procs, tmp_path, "numpy")
    assert max(relative_errors(got, ref)) <= TOLERANCE


@needs_mpirun
@pytest.mark.parametrize("name", ["jet_wall_open", "ritter"])
def test_fortran_boundaries_agree_with_jax(edges, fortran_exe, tmp_path, name):
    directory, _, ref = edges[name]
    got = run_baseline(fortran_exe, directory, 2, (2, 1), tmp_path, "fortran")
    assert max(relative_errors(got, ref)) <= TOLERANCE


@pytest.fixture(scope="module")
def minmod_problem(tmp_path_factory):
    directory = tmp_path_factory.mktemp("minmod")
    write_problem(directory, benchmark_config(16, 16, limiter="minmod"))
    return directory


def check_refused(command, directory, name):
    result = subprocess.run(command + [str(directory), "--procs", "1", "1", "--steps", "1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(name) and "limiter" in lines[0]
    assert result.stdout == ""


def test_numpy_refuses_unsupported_limiter(minmod_problem):
    check_refused(NUMPY, minmod_problem, "numpy_swe")


def test_fortran_refuses_unsupported_limiter(minmod_problem, fortran_exe):
    check_refused(fortran_exe, minmod_problem, "swe_mpi")


# ------------------------------------------------------------- the runner
def test_runner_sizes():
    from benchmarks.run import UsageError, parse_size

    assert parse_size("256") == (256, 256)
    assert parse_size("1e4") == (100, 100)
    assert parse_size("1.6e7") == (4000, 4000)
    assert parse_size("64x32") == (64, 32)
    with pytest.raises(UsageError):
        parse_size("big")


def _point(impl, ranks, nx, ny, ms):
    return {"impl": impl, "ranks": ranks, "nx": nx, "ny": ny, "precision": "float64",
            "status": "ok", "ms_per_step": ms}


def test_runner_scaling_tables():
    """Strong efficiency T1/(N TN), weak efficiency T1/TN on the same tile."""
    from benchmarks.run import strong_rows, weak_rows

    points = [_point("numpy", 1, 100, 100, 10.0), _point("numpy", 2, 100, 100, 6.0),
              _point("numpy", 2, 100, 200, 12.5), _point("jax", 2, 100, 100, 1.0)]
    assert strong_rows(points, [1, 2]) == [
        ["numpy", "float64", "100x100", 2, "10", "6", "1.67", "83"]]
    assert weak_rows(points, [1, 2]) == [
        ["numpy", "float64", "100x100", 2, "100x200", "10", "12.5", "80"]]


def test_runner_goal_rows_and_auto_steps():
    """Goal table rows for both JAX builds at >= 1M cells per rank (ratios by
    hand: 50/40 = 1.25, 300/50 = 6.0; 60/40 = 1.5 and 300/60 = 5.0 are on the
    goals' edges, which count as met); small grids are left out. At least
    MIN_AUTO_STEPS steps per repeat, at most MAX_AUTO_STEPS."""
    from benchmarks.run import MAX_AUTO_STEPS, MIN_AUTO_STEPS, auto_steps, goal_rows

    points = [_point("fortran", 1, 1024, 1024, 40.0), _point("numpy", 1, 1024, 1024, 300.0),
              _point("jax", 1, 1024, 1024, 50.0), _point("jax-avx2", 1, 1024, 1024, 60.0),
              _point("jax", 1, 100, 100, 1.0)]
    assert goal_rows(points) == [
        ["jax", "float64", 1, "1024x1024", "1.25", "yes", "6.0", "yes"],
        ["jax-avx2", "float64", 1, "1024x1024", "1.50", "yes", "5.0", "yes"]]
    assert auto_steps("jax", 16_000_000) == MIN_AUTO_STEPS == 4
    assert auto_steps("jax-avx2", 1_000_000) == 4
    assert auto_steps("fortran", 10_000) == MAX_AUTO_STEPS


def test_runner_svg_is_valid(tmp_path):
    import xml.etree.ElementTree as ET

    from benchmarks.run import write_svg

    series = {"jax 1 rank": ("jax", 1, [(1e4, 50.0), (1e6, 20.0)]),
              "numpy 2 ranks": ("numpy", 2, [(1e4, 900.0), (1.6e7, 300.0)])}
    assert write_svg(tmp_path / "plot.svg", series, "test")
    root = ET.parse(tmp_path / "plot.svg").getroot()
    assert len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 2


@needs_mpirun
def test_runner_end_to_end(tmp_path):
    """One tiny NumPy point through the runner: JSON, CSV, tables and plot written."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--impl", "numpy", "--ranks", "1",
         "--sizes", "16", "--steps", "1", "--repeats", "3", "--out", str(tmp_path),
         "--tag", "t"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "t.json").read_text())
    (point,) = data["points"]
    assert point["status"] == "ok" and len(point["repeat_seconds"]) == 3
    assert point["cell_updates_per_second"] == pytest.approx(
        256 / (point["median_seconds"] / point["steps"]))
    assert data["machine"]["numpy"] == np.__version__
    for ext in ("csv", "md", "svg"):
        assert (tmp_path / f"t.{ext}").stat().st_size > 0
