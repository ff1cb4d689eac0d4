"""Serial tests of the process grid (parallel.decomposition) and of the rule
that the numerics in dycore/ import nothing from mpi4py or mpi4jax."""
from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

import dycore  # noqa: F401  (imported before parallel: dycore -> parallel order)
from dycore.grid import Grid
from parallel.errors import DecompositionError
from parallel.decomposition import (Decomposition, check_procs, choose_procs, factor_pairs,
                                    split)

ROOT = pathlib.Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ split
@pytest.mark.parametrize("n, parts", [(10, 3), (24, 4), (23, 4), (7, 7), (19, 3), (5, 1)])
def test_split_sizes_differ_by_at_most_one_first_larger(n, parts):
    sizes, offsets = split(n, parts)
    assert sum(sizes) == n and len(sizes) == parts
    assert max(sizes) - min(sizes) <= 1
    assert list(sizes) == sorted(sizes, reverse=True)
    assert offsets[0] == 0
    assert all(offsets[k + 1] == offsets[k] + sizes[k] for k in range(parts - 1))


def test_split_example():
    assert split(10, 3) == ((4, 3, 3), (0, 4, 7))


# ------------------------------------------------------------------ choose_procs
@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 8, 12, 16])
def test_choose_procs_factorises_rank_count(n):
    px, py = choose_procs(n, 96, 64)
    assert px * py == n


def test_choose_procs_minimises_perimeter():
    assert choose_procs(4, 100, 100) == (2, 2)
    assert choose_procs(4, 400, 4) == (4, 1)  # a 1D problem along x
    assert choose_procs(4, 4, 400) == (1, 4)
    assert choose_procs(6, 300, 200) == (3, 2)
    for n in (2, 4, 6, 8, 12):
        best = choose_procs(n, 120, 80)
        cost = lambda p: -(-120 // p[0]) - (-80 // p[1])  # noqa: E731
        assert cost(best) == min(cost(p) for p in factor_pairs(n))


def test_choose_procs_avoids_tiles_narrower_than_halo():
    # 4 ranks on 8 x 100: 4x1 gives 2-cell tiles (< halo 3); 2x2 or 1x4 are valid.
    px, py = choose_procs(4, 8, 100, min_cells=3)
    assert 8 // px >= 3 and 100 // py >= 3


# ------------------------------------------------------------------ Decomposition
@pytest.mark.parametrize("procs", [(1, 1), (2, 1), (1, 3), (3, 2), (4, 4)])
@pytest.mark.parametrize("shape", [(24, 20), (23, 19)])
def test_tiles_cover_grid_exactly_once(procs, shape):
    import numpy as np

    grid = Grid(shape[0], shape[1], 1.0, 1.0)
    dec = Decomposition(grid, procs, 2)
    cover = np.zeros((grid.ny, grid.nx), int)
    for rank in range(dec.size):
        tile = dec.tile(rank)
        cover[tile.y_slice, tile.x_slice] += 1
        assert dec.rank_of(*dec.coords(rank)) == rank
    assert (cover == 1).all()


def test_rank_numbering_px_fastest():
    dec = Decomposition(Grid(30, 20, 1.0, 1.0), (3, 2), 2)
    assert [dec.coords(r) for r in range(6)] == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    assert dec.tile(4).i0 == 10 and dec.tile(4).j0 == 10


def test_neighbours_walls_and_periodic():
    grid = Grid(30, 20, 1.0, 1.0)
    walls = Decomposition(grid, (3, 2), 2)
    nb = walls.neighbours(0)
    assert (nb.west, nb.east, nb.south, nb.north) == (None, 1, None, 3)
    nb = walls.neighbours(5)
    assert (nb.west, nb.east, nb.south, nb.north) == (4, None, 2, None)
    wrap = Decomposition(grid, (3, 2), 2, periodic_x=True, periodic_y=True)
    nb = wrap.neighbours(0)
    assert (nb.west, nb.east, nb.south, nb.north) == (2, 1, 3, 3)
    single = Decomposition(grid, (1, 1), 2, periodic_x=True)
    nb = single.neighbours(0)
    assert (nb.west, nb.east, nb.south, nb.north) == (0, 0, None, None)


# ------------------------------------------------------------------ errors
def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_procs_must_match_rank_count():
    with pytest.raises(DecompositionError) as err:
        check_procs((3, 2), 4)
    message = _one_line(err)
    assert message.startswith("config key 'procs'") and "3x2" in message and "4" in message


@pytest.mark.parametrize("bad", [(0, 2), (2,), "2x2", (1.5, 2), (True, 1), (1, 1, 2)])
def test_procs_must_be_two_positive_integers(bad):
    with pytest.raises(DecompositionError) as err:
        Decomposition.for_ranks(Grid(8, 8, 1.0, 1.0), 2, 2, procs=bad)
    assert _one_line(err).startswith("config key 'procs'")


def test_tile_narrower_than_halo_names_nx_and_max_ranks():
    with pytest.raises(DecompositionError) as err:
        Decomposition(Grid(10, 40, 1.0, 1.0), (4, 1), 3)
    message = _one_line(err)
    assert message.startswith("config key 'nx'") and "at most 3 ranks along x" in message


def test_tile_narrower_than_halo_names_ny():
    with pytest.raises(DecompositionError) as err:
        Decomposition(Grid(40, 8, 1.0, 1.0), (1, 3), 3)
    message = _one_line(err)
    assert message.startswith("config key 'ny'") and "at most 2 ranks along y" in message


def test_single_periodic_rank_needs_halo_cells():
    with pytest.raises(DecompositionError) as err:
        Decomposition(Grid(2, 40, 1.0, 1.0), (1, 1), 3, periodic_x=True)
    assert _one_line(err).startswith("config key 'nx'")


def test_serial_make_context_rejects_multi_rank_procs():
    from parallel import launched_with_several_ranks, make_context

    if launched_with_several_ranks():
        pytest.skip("started by mpirun with several ranks")
    with pytest.raises(DecompositionError) as err:
        make_context(Grid(8, 8, 1.0, 1.0), 2, procs=(2, 1))
    assert _one_line(err).startswith("config key 'procs'")


# ------------------------------------------------------------------ no MPI in dycore
def test_dycore_sources_do_not_import_mpi():
    """Static check: no module under dycore/ names mpi4py or mpi4jax in an import."""
    offenders = []
    for path in sorted((ROOT / "dycore").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in ("mpi4py", "mpi4jax")]
    assert not offenders, offenders


def test_serial_simulation_loads_no_mpi_modules():
    """A serial run (no mpirun) imports dycore, parallel.decomposition and runs a
    step without mpi4py or mpi4jax ever being imported."""
    code = textwrap.dedent("""
        import sys
        import dycore, dycore.simulation, parallel, parallel.decomposition, parallel.halo
        from dycore import Config, Simulation
        dycore.runtime.configure()
        sim = Simulation(Config(case="inertia_gravity_wave", nx=12, ny=10))
        state = sim.run(sim.initial_state(), 1)
        assert type(sim.context).__name__ == "SerialContext", type(sim.context)
        print(sim.mass(state))
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("mpi4py", "mpi4jax"))
        assert not loaded, loaded
    """)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_", "PMI_", "PMIX_", "MPI_LOCAL", "HYDRA_", "SLURM_"))}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
