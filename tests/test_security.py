"""Files under attack (issue 15, items 1, 2, 4, 5, 6, 7): the driver never
writes through a link, never replaces anything but regular files and tile
folders of its own, never deletes or reuses what it did not create in this
run, locks its output against a second writer and replaces an old output
only with a complete new one, finds every clash between its paths before
the first step, and leaves nothing behind when it refuses to run.

Most tests call ``main()`` in this process on 16 x 4 grids (one step); the
ones about concurrent runs and several ranks start subprocesses.
"""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import dycore
from dycore.config import Config
from dycore.driver.files import save_restart
from dycore.io import OutputError
from dycore.io.safe_files import FileLock, new_h5
from dycore.run import main

from test_io import fake_ranks, local, on_ranks  # the thread-backed fake ranks
from test_reliability import MPIRUN, assert_one_line, command, env, leftovers  # noqa: F401

# An output interval of t_end: two frames (the default is t_end / 10 since issue 14).
DAM = ["--case", "dam_break", "--nx", "16", "--t-end", "0.01", "--output-interval", "0.01",
       "--quiet"]
LONG = ["--case", "inertia_gravity_wave", "--nx", "16", "--ny", "16", "--t-end", "1e11",
        "--output-interval", "1e10"]
needs_mpirun = pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")


def call(capsys, *args):
    """main() on ``args``: (exit status, stderr lines)."""
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, err.splitlines()


def refused(capsys, *args, needles=()):
    """main() exits 2 with one line holding the needles."""
    code, lines = call(capsys, *args)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("dycore: error: "), (code, lines)
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------- item 1
def test_restart_tmp_symlink_is_not_followed(here, capsys):
    """`ln -s victim.txt dycore_restart.h5.tmp` then a run with checkpoints:
    the victim is untouched, the restart file is written all the same."""
    victim = here / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, here / "dycore_restart.h5.tmp")
    code, lines = call(capsys, *DAM, "--checkpoint-interval", "0.01")
    assert code == 0, lines
    assert victim.read_text() == "precious\n"
    assert os.path.islink(here / "dycore_restart.h5.tmp")  # not ours: left alone
    with h5py.File(here / "dycore_restart.h5", "r") as f:
        assert f.attrs["kind"] == "dycore restart" and f.attrs["time"] == 0.01
    assert sorted(p.name for p in here.iterdir()) == ["dycore_restart.h5",
                                                      "dycore_restart.h5.tmp", "victim.txt"]


def test_new_files_are_created_exclusively(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "link.h5"
    os.symlink(victim, link)
    with pytest.raises(FileExistsError):
        new_h5(str(link))
    dangling = tmp_path / "dangling.h5"
    os.symlink(tmp_path / "nowhere.h5", dangling)
    with pytest.raises(FileExistsError):
        new_h5(str(dangling))
    assert not (tmp_path / "nowhere.h5").exists() and victim.read_text() == "precious\n"
    f, name = new_h5(folder=str(tmp_path), prefix="ck.h5.")
    f.close()
    assert os.path.basename(name).startswith("ck.h5.") and name.endswith(".tmp")
    assert stat.S_ISREG(os.lstat(name).st_mode)


def test_tile_tmp_links_are_never_followed(tmp_path):
    """Per-rank restart tiles: a link planted in the tile folder (at the
    old fixed temporary name) makes the folder not ours: refused, the
    victim untouched; without it the tiles are written under fresh names."""
    sim = dycore.Simulation(Config(case="dam_break", nx=16))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    path = tmp_path / "ck.h5"
    (tmp_path / "ck.h5.tiles").mkdir()
    os.symlink(victim, tmp_path / "ck.h5.tiles" / "step000000000003_rank00000.h5.tmp")
    ranks = fake_ranks(sim, 2, 1)
    state = sim.initial_state()
    with pytest.raises(OutputError, match="not a tile folder written by dycore"):
        on_ranks(lambda r: save_restart(path, r, local(state, r.tile), 1.0, 3), ranks)
    assert victim.read_text() == "precious\n" and not path.exists()
    os.remove(tmp_path / "ck.h5.tiles" / "step000000000003_rank00000.h5.tmp")
    on_ranks(lambda r: save_restart(path, r, local(state, r.tile), 1.0, 3), fake_ranks(sim, 2, 1))
    assert sorted(os.listdir(tmp_path / "ck.h5.tiles")) == [
        "step000000000003_rank00000.h5", "step000000000003_rank00001.h5"]


def test_output_part_link_is_not_followed(here, capsys):
    victim = here / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, here / "o.h5.part")
    refused(capsys, *DAM, "--output", "o.h5", needles=["'o.h5.part' exists", "--overwrite"])
    refused(capsys, *DAM, "--output", "o.h5", "--overwrite", needles=["not a regular file"])
    assert victim.read_text() == "precious\n" and os.path.islink(here / "o.h5.part")


# --------------------------------------------------------------- item 2
def test_overwrite_replaces_only_regular_files(here, capsys):
    os.mkfifo(here / "fifo")
    targets = ["fifo"]
    try:  # a character device like /dev/null (needs root)
        os.mknod(here / "nulldev", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append("nulldev")
    except (PermissionError, OSError):
        pass
    victim = here / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, here / "link.h5")
    targets.append("link.h5")
    for name in targets:
        refused(capsys, *DAM, "--output", name, "--overwrite",
                needles=[repr(name), "not a regular file", "--overwrite"])
        refused(capsys, *DAM, "--checkpoint", name, "--overwrite",
                needles=[repr(name), "not a regular file"])
    assert stat.S_ISFIFO(os.lstat(here / "fifo").st_mode)
    if "nulldev" in targets:
        assert stat.S_ISCHR(os.lstat(here / "nulldev").st_mode)
    assert victim.read_text() == "precious\n"
    # a regular file is replaced
    (here / "old.h5").write_text("old")
    code, lines = call(capsys, *DAM, "--output", "old.h5", "--overwrite")
    assert code == 0, lines
    with h5py.File(here / "old.h5", "r") as f:
        assert f["h"].shape == (2, 4, 16)


# --------------------------------------------------------------- item 4
def test_tile_folders_not_ours_are_never_deleted_or_reused(here, capsys):
    other = here / "other"
    other.mkdir()
    (other / "rank00000.h5").write_text("keep me\n")
    os.symlink(other, here / "o.h5.tiles")
    refused(capsys, *DAM, "--output", "o.h5", needles=["o.h5.tiles", "exists", "--overwrite"])
    refused(capsys, *DAM, "--output", "o.h5", "--overwrite",
            needles=["o.h5.tiles", "not a tile folder written by dycore"])
    assert (other / "rank00000.h5").read_text() == "keep me\n"
    # a folder holding other files is not ours either
    os.remove(here / "o.h5.tiles")
    (here / "o.h5.tiles").mkdir()
    (here / "o.h5.tiles" / "notes.txt").write_text("mine\n")
    refused(capsys, *DAM, "--output", "o.h5", "--overwrite", needles=["not a tile folder"])
    assert (here / "o.h5.tiles" / "notes.txt").exists()
    # a tile folder of an earlier run is not reused without --overwrite
    shutil.rmtree(here / "o.h5.tiles")
    (here / "a.h5.tiles").mkdir()
    (here / "a.h5.tiles" / "rank00000.h5").write_text("")
    refused(capsys, *DAM, "--output", "a.h5", needles=["a.h5.tiles", "exists", "--overwrite"])
    assert (here / "a.h5.tiles" / "rank00000.h5").exists()


@needs_mpirun
def test_moved_tiled_output_keeps_its_data(env, tmp_path):
    """2 ranks: `mv a.h5 keep.h5` then a new run to a.h5 is refused (a.h5.tiles
    still holds keep.h5's data), on every rank, and keep.h5 is unchanged."""
    args = ["--case", "dam_break", "--nx", "16", "--t-end", "0.01", "--quiet"]
    first = subprocess.run(command([*args, "--output", "a.h5"], 2), env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr
    os.rename(tmp_path / "a.h5", tmp_path / "keep.h5")
    with h5py.File(tmp_path / "keep.h5", "r") as f:
        before = f["h"][()]
    again = subprocess.run(command([*args, "--output", "a.h5",
                                    "--set", "case_params.h_left=0.004"], 2),
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert_one_line(again, 2, "a.h5.tiles", "exists")
    with h5py.File(tmp_path / "keep.h5", "r") as f:
        np.testing.assert_array_equal(f["h"][()], before)
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------- item 5
def test_locked_part_refuses_a_second_writer(here, capsys):
    part = here / "o.h5.part"
    part.write_text("being written")
    lock = FileLock.take(str(part))  # as a running writer holds it
    try:
        refused(capsys, *DAM, "--output", "o.h5", "--overwrite",
                needles=["'o.h5.part'", "being written by another run"])
        refused(capsys, *DAM, "--output", "o.h5",
                needles=["'o.h5.part'", "being written by another run"])
        assert part.read_text() == "being written"
    finally:
        lock.release()
    code, lines = call(capsys, *DAM, "--output", "o.h5", "--overwrite")  # a crash's leftover
    assert code == 0, lines
    assert not part.exists() and (here / "o.h5").is_file()


def test_second_writer_and_crash_of_an_overwrite_run(env, tmp_path):
    """An --overwrite run is writing o.h5.part: a second --overwrite run is
    refused (exit 2, the first unharmed); the first killed mid-run leaves
    the old o.h5 as it was (replaced only when the new one is complete)."""
    with h5py.File(tmp_path / "o.h5", "w") as f:
        f.attrs["marker"] = "old output"
    proc = subprocess.Popen(command([*LONG, "--output", "o.h5", "--overwrite"]), env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().startswith("dycore: inertia_gravity_wave")
        second = subprocess.run(command([*LONG, "--output", "o.h5", "--overwrite"]), env=env,
                                cwd=tmp_path, capture_output=True, text=True, timeout=240)
        assert_one_line(second, 2, "'o.h5.part'", "being written by another run")
        assert proc.poll() is None  # the first run goes on
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    with h5py.File(tmp_path / "o.h5", "r") as f:
        assert f.attrs["marker"] == "old output"
    assert (tmp_path / "o.h5.part").exists()
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------- item 6
def test_every_path_clash_is_found_before_the_first_step(here, capsys):
    (here / "dir").mkdir()
    (here / "run.toml").write_text('case = "dam_break"\nnx = 16\nt_end = 0.01\n')
    sim = dycore.Simulation(Config(case="dam_break", nx=16))
    save_restart(here / "ck.h5", sim, sim.initial_state(), 0.0, 0)
    refused(capsys, *DAM, "--output", "o.h5", "--checkpoint", "o.h5.part",
            needles=["--checkpoint", "clashes", "o.h5.part"])
    refused(capsys, *DAM, "--output", "o.h5", "--checkpoint", "o.h5.tiles",
            needles=["--checkpoint", "clashes"])
    refused(capsys, *DAM, "--output", "o.h5", "--checkpoint", "o.h5",
            needles=["--checkpoint", "clashes"])
    refused(capsys, *DAM, "--checkpoint", "dir", needles=["'dir' is a directory"])
    refused(capsys, *DAM, "--checkpoint", "dir", "--overwrite", needles=["is a directory"])
    refused(capsys, *DAM, "--output", "dir", "--overwrite", needles=["is a directory"])
    refused(capsys, "--restart", "ck.h5", "--t-end", "0.01", "--output", "ck.h5", "--overwrite",
            "--checkpoint", "other.h5", needles=["--restart"])
    refused(capsys, "run.toml", "--output", "run.toml", "--overwrite", needles=["config file"])
    refused(capsys, "run.toml", "--checkpoint", "run.toml", "--overwrite",
            needles=["config file"])
    assert sorted(p.name for p in here.iterdir()) == ["ck.h5", "dir", "run.toml"]
    assert os.listdir(here / "dir") == []


# --------------------------------------------------------------- item 7
def test_bad_input_creates_nothing(here, capsys):
    (here / "file").write_text("x")
    refused(capsys, *DAM, "--output", "a/b/c/o.h5", "--checkpoint", "file/ck.h5",
            needles=["--checkpoint", "not writable"])
    refused(capsys, *DAM, "--output", "a/b/c/o.h5", "--set", "case_params.h_left=1e308")
    refused(capsys, *DAM, "--output", "a/b/c/o.h5", "--nx", "100000", "--ny", "100000")
    refused(capsys, *DAM, "--output", "a/b/c/o.h5", "--checkpoint", "a/b/c/o.h5.part")
    assert sorted(p.name for p in here.iterdir()) == ["file"]


def test_failed_restart_write_leaves_no_tmp(tmp_path, monkeypatch):
    import dycore.io.restart as restart

    sim = dycore.Simulation(Config(case="dam_break", nx=16))
    state = sim.initial_state()

    def broken(tmp, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(restart, "publish", broken)
    with pytest.raises(OutputError, match="No space left"):
        save_restart(tmp_path / "ck.h5", sim, state, 0.0, 0)
    with pytest.raises(OutputError, match="No space left"):
        on_ranks(lambda r: save_restart(tmp_path / "t.h5", r, local(state, r.tile), 0.0, 0),
                 fake_ranks(sim, 2, 1))
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert left == [], left


def test_output_that_fails_to_start_removes_what_it_made(tmp_path, monkeypatch):
    """A tile that cannot be created on rank 1 fails every rank before the
    first step, and the writer removes the .part, the tile folder and the
    folders it made."""
    from dycore.driver.files import open_output
    import dycore.io.output as output

    sim = dycore.Simulation(Config(case="dam_break", nx=16))
    real = output.new_h5

    def planted(path=None, **kwargs):
        if path is not None and path.endswith("rank00001.h5"):
            raise PermissionError(13, "Permission denied", path)
        return real(path, **kwargs)

    monkeypatch.setattr(output, "new_h5", planted)
    with pytest.raises(OutputError, match="cannot create output tile"):
        on_ranks(lambda r: open_output(tmp_path / "a" / "b" / "o.h5", r), fake_ranks(sim, 2, 1))
    assert os.listdir(tmp_path) == []
