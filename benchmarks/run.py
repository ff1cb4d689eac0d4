"""Benchmark runner: the JAX solver against the NumPy+MPI and Fortran+MPI
baselines on the same problem (``benchmarks/PROTOCOL.md``).

    python -m benchmarks.run --quick                  # smoke test, ~15-40 s on 2 cores
    python -m benchmarks.run --impl jax numpy fortran --ranks 1 2 \\
        --sizes 1e4 1.6e5 1e6 4e6 1.6e7 --precision float64 float32
    python -m benchmarks.run --impl jax jax-avx2 fortran --ranks 1 2 --sizes 1024
    python -m benchmarks.run --device gpu --impl jax --ranks 1

Implementations: ``jax`` (the dycore solver as installed: XLA:CPU capped at
AVX, no FMA), ``jax-avx2`` (the same with XLA_FLAGS=--xla_cpu_max_isa=AVX2:
FMA allowed, faster, results depend on the tile shape by round-off),
``numpy`` and ``fortran``. Every point runs with
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 unless GLIBC_TUNABLES is set.

For every point (implementation, rank count, grid, precision) it writes the
problem directory (the unstable-jet benchmark problem, ``problem.py``) into a
temporary directory, starts ``mpirun -n N`` with the implementation's
command line, and reads its JSON line. Warm-up and compilation are excluded
by the implementations; the runner reports the median of the repeats as
milliseconds per step per million cells and cell updates per second, with
the peak resident memory of each rank. A point that fails (non-zero exit,
timeout, out of memory) is recorded with its error and the run goes on.

Scaling: for each grid nx x ny the N-rank runs use the process grid
(1, N) (a y split: contiguous halo rows), so that
- strong scaling compares the same grid on 1 and N ranks:
  efficiency = T1 / (N TN);
- weak scaling compares nx x ny on 1 rank with nx x (N ny) on N ranks, the
  same tile per rank: efficiency = T1 / TN.

Results go to ``--out`` (default benchmarks/results) as TAG.json (machine,
settings, every point), TAG.csv, TAG.md (tables: all points, strong and weak
scaling, the issue's performance goals) and a log-log plot of wall time per
step per million cells against the number of cells, one line per
implementation and rank count: TAG.svg, written by a small built-in SVG
writer (matplotlib is not a dependency of the project; with matplotlib
importable, TAG.png is written as well).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FORTRAN_EXE = os.path.join(ROOT, "benchmarks", "fortran", "build", "swe_mpi")
IMPLS = ("jax", "jax-avx2", "numpy", "fortran")
# jax-avx2: the JAX solver with XLA:CPU allowed AVX2 + FMA (as the Fortran
# build is): faster, but results then depend on the tile shape by round-off.
JAX_AVX2_FLAG = "--xla_cpu_max_isa=AVX2"
DEFAULT_SIZES = ["100", "200", "400", "800", "1600", "3200", "4000"]
QUICK = {"sizes": ["64", "128"], "ranks": [1, 2], "steps": 5, "repeats": 3}
# Cell-steps per timed repeat when --steps is not given (aims at ~0.5-2 s).
TARGET_CELL_STEPS = {"numpy": 2.0e6, "jax": 4.0e6, "jax-avx2": 4.0e6, "fortran": 2.0e7}
MAX_AUTO_STEPS = 200
# At least this many steps per timed repeat: a jitted JAX call allocates its
# temporary buffers afresh, and first-touching them cost ~75 ms per call at
# 1M cells (measured: 1 step/call 211, 8 steps/call 136 ms/step/Mcell), a cost
# a real run pays once per output interval, not once per step.
MIN_AUTO_STEPS = 4
# glibc's malloc backs large blocks with transparent huge pages (glibc >= 2.35;
# ignored by older ones): fewer page faults and TLB misses for every
# implementation (JAX 1024^2, 1 step/call: 211 -> 139 ms/step/Mcell).
MALLOC_TUNABLES = "glibc.malloc.hugetlb=1"


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


# ------------------------------------------------------------------ setup
def parse_size(text: str) -> tuple[int, int]:
    """'NXxNY', an nx below 10000 (square grid) or a cell count such as 1.6e7."""
    m = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    try:
        if m:
            nx, ny = int(m.group(1)), int(m.group(2))
        else:
            value = float(text)
            if value != int(value):
                raise ValueError
            n = int(value) if value < 10000 else int(round(math.sqrt(value)))
            nx = ny = n
    except ValueError:
        raise UsageError(f"bad size {text!r}: give nx, NXxNY or a cell count") from None
    if nx < 4 or ny < 4:
        raise UsageError(f"size {text!r} too small (at least 4 x 4 cells)")
    return nx, ny


def procs_for(n: int) -> tuple[int, int]:
    """(PX, PY) with PX * PY = n, as square as possible, PY >= PX."""
    px = max(p for p in range(1, int(math.isqrt(n)) + 1) if n % p == 0)
    return px, n // px


def auto_steps(impl: str, cells_per_rank: int) -> int:
    return max(MIN_AUTO_STEPS, min(MAX_AUTO_STEPS, round(TARGET_CELL_STEPS[impl] / cells_per_rank)))


def mpirun_prefix(n: int, bind_to: str = "core") -> list[str]:
    cmd = ["mpirun"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + ["--oversubscribe", "--bind-to", bind_to, "-n", str(n)]


def impl_command(impl: str, device: str) -> list[str]:
    if impl == "numpy":
        return [sys.executable, "-m", "benchmarks.numpy_swe"]
    if impl == "fortran":
        return [FORTRAN_EXE]
    return [sys.executable, "-m", "benchmarks.jax_bench", "--device", device]


def ensure_fortran(log) -> bool:
    """True when the Fortran executable exists (built with make -s fortran if needed)."""
    if os.path.exists(FORTRAN_EXE):
        return True
    try:
        result = subprocess.run(["make", "-s", "fortran"], cwd=ROOT, capture_output=True,
                                text=True, timeout=600)
        ok = result.returncode == 0 and os.path.exists(FORTRAN_EXE)
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
    except (OSError, subprocess.TimeoutExpired) as err:
        ok, reason = False, [str(err)]
    if not ok:
        log(f"warning: skipping fortran: 'make -s fortran' failed ({reason[0][:120]})")
    return ok


def _first_line(cmd) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        text = (out.stdout or out.stderr).strip().splitlines()
        return text[0].strip() if text else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info(device: str) -> dict:
    """CPU, cores, memory, MPI/compiler/library versions and the git commit."""
    info = {"hostname": platform.node(), "platform": platform.platform(),
            "python": platform.python_version(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu_model": "", "logical_cpus": os.cpu_count(),
            "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count()}
    for line in _run_text(["lscpu"]).splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            info["cpu_model"] = value.strip()
        elif key.strip() in ("L2 cache", "L3 cache"):
            info[key.strip().lower().replace(" ", "_")] = value.strip()
    try:
        with open("/proc/meminfo") as fh:
            kib = int(fh.readline().split()[1])
        info["memory_gib"] = round(kib / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    info["mpirun"] = _first_line(["mpirun", "--version"])
    info["mpif90"] = _first_line(["mpif90", "--version"])
    for pkg in ("numpy", "jax", "jaxlib", "mpi4py", "mpi4jax"):
        try:
            info[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            info[pkg] = None
    info["git_commit"] = _run_text(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).strip()
    info["git_dirty_files"] = len(_run_text(["git", "-C", ROOT, "status", "--porcelain",
                                             "--untracked-files=no"]).splitlines())
    info["source_digest_start"] = source_digest()
    if device == "gpu":
        info["gpu"] = _first_line(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                   "--format=csv,noheader"])
    info["glibc"] = " ".join(platform.libc_ver())
    info["glibc_tunables"] = os.environ.get("GLIBC_TUNABLES", MALLOC_TUNABLES)
    info["load_average_start"] = list(os.getloadavg())
    return info


SOLVER_SOURCES = ("dycore", "parallel", "benchmarks/fortran", "benchmarks/numpy_swe.py",
                  "benchmarks/jax_bench.py", "benchmarks/problem.py")


def source_digest() -> str:
    """Short SHA-1 of the solver sources (dycore/, parallel/, the baselines and
    the protocol drivers) as they are on disk now: points with different
    digests ran different code."""
    import hashlib

    digest = hashlib.sha1()
    paths = []
    for top in SOLVER_SOURCES:
        full = os.path.join(ROOT, top)
        if os.path.isfile(full):
            paths.append(full)
        for folder, dirs, files in os.walk(full):
            dirs[:] = [d for d in dirs if d not in ("__pycache__", "build")]
            paths += [os.path.join(folder, f) for f in files
                      if f.endswith((".py", ".f90", ".inc"))]
    for path in sorted(paths):
        digest.update(os.path.relpath(path, ROOT).encode())
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:12]


def _run_text(cmd) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


# ------------------------------------------------------------- one point
def run_point(point: dict, problem_dir: str, args, log) -> dict:
    impl, n = point["impl"], point["ranks"]
    cmd = mpirun_prefix(n, args.bind_to) + impl_command(impl, args.device) + [
        problem_dir, "--procs", str(point["procs"][0]), str(point["procs"][1]),
        "--steps", str(point["steps"]), "--warmup", str(args.warmup),
        "--repeats", str(args.repeats), "--precision", point["precision"]]
    env = dict(os.environ)
    from dycore.runtime import compile_cache_dir, compile_cache_off

    if not compile_cache_off():
        env.setdefault("JAX_COMPILATION_CACHE_DIR", compile_cache_dir())
    env.setdefault("GLIBC_TUNABLES", MALLOC_TUNABLES)
    if impl == "jax-avx2":
        flags = re.sub(r"--xla_cpu_max_isa=\S+", "", env.get("XLA_FLAGS", ""))
        env["XLA_FLAGS"] = (flags + " " + JAX_AVX2_FLAG).strip()
    if impl.startswith("jax") and args.device == "gpu":
        env.pop("JAX_PLATFORMS", None)
    point["command"] = " ".join(cmd[cmd.index("-n") + 2:]).replace(sys.executable, "python")
    point["source_digest"] = source_digest()
    point["load_average_1min"] = round(os.getloadavg()[0], 2)
    start = time.perf_counter()
    try:
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=args.timeout)
    except subprocess.TimeoutExpired:
        point.update(status="timeout", error=f"no result within {args.timeout} s")
        return point
    point["wall_seconds"] = round(time.perf_counter() - start, 2)
    record = None
    for line in reversed(result.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                record = json.loads(line)
                break
            except ValueError:
                pass
    if result.returncode != 0 or record is None or not record.get("repeat_seconds"):
        lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
        error = next((ln for ln in lines if "error" in ln.lower() or "killed" in ln.lower()),
                     lines[0] if lines else f"exit status {result.returncode}")
        if result.returncode in (137, -9) or "killed" in result.stderr.lower():
            error = "killed (out of memory?): " + error
        point.update(status="failed", error=error.strip()[:300], returncode=result.returncode)
        return point
    times = record["repeat_seconds"]
    median = statistics.median(times)
    cells = point["nx"] * point["ny"]
    per_step = median / point["steps"]
    rss = record.get("peak_rss_mib") or []
    point.update(
        status="ok", repeat_seconds=times, median_seconds=median,
        ms_per_step=1e3 * per_step,
        ms_per_step_per_mcell=1e3 * per_step / (cells / 1e6),
        cell_updates_per_second=cells / per_step,
        peak_rss_mib_per_rank=rss, peak_rss_mib_max=max(rss) if rss else None)
    for key in ("first_call_seconds", "xla_flags", "backend", "block_cells", "finite_on_root"):
        if key in record:
            point[key] = record[key]
    if record.get("finite_on_root") is False:
        point["warning"] = "non-finite state"
    if args.device == "gpu" and impl.startswith("jax") and record.get("backend") != "gpu":
        point.update(status="failed", error=f"asked for a GPU, JAX used {record.get('backend')}")
    return point


# ---------------------------------------------------------------- tables
def _ok(points):
    return [p for p in points if p["status"] == "ok"]


def find(points, impl, precision, ranks, nx, ny):
    for p in points:
        if (p["impl"], p["precision"], p["ranks"], p["nx"], p["ny"]) == (
                impl, precision, ranks, nx, ny) and p["status"] == "ok":
            return p
    return None


def strong_rows(points, ranks):
    rows = []
    for p1 in _ok(points):
        if p1["ranks"] != 1:
            continue
        for n in ranks:
            if n == 1:
                continue
            pn = find(points, p1["impl"], p1["precision"], n, p1["nx"], p1["ny"])
            if pn:
                t1, tn = p1["ms_per_step"], pn["ms_per_step"]
                rows.append([p1["impl"], p1["precision"], f"{p1['nx']}x{p1['ny']}", n,
                             f"{t1:.4g}", f"{tn:.4g}", f"{t1 / tn:.2f}",
                             f"{100 * t1 / (n * tn):.0f}"])
    return rows


def weak_rows(points, ranks):
    rows = []
    for p1 in _ok(points):
        if p1["ranks"] != 1:
            continue
        for n in ranks:
            if n == 1:
                continue
            pn = find(points, p1["impl"], p1["precision"], n, p1["nx"], n * p1["ny"])
            if pn:
                t1, tn = p1["ms_per_step"], pn["ms_per_step"]
                rows.append([p1["impl"], p1["precision"], f"{p1['nx']}x{p1['ny']}", n,
                             f"{p1['nx']}x{n * p1['ny']}", f"{t1:.4g}", f"{tn:.4g}",
                             f"{100 * t1 / tn:.0f}"])
    return rows


def goal_rows(points):
    """The issue's goals at >= 1M cells per rank: JAX within 1.5x of Fortran
    and >= 5x faster than NumPy (same ranks, grid, precision)."""
    rows = []
    for pj in _ok(points):
        if not pj["impl"].startswith("jax") or pj["nx"] * pj["ny"] / pj["ranks"] < 1e6:
            continue
        args = (pj["precision"], pj["ranks"], pj["nx"], pj["ny"])
        pf, pn = find(points, "fortran", *args), find(points, "numpy", *args)
        tj = pj["ms_per_step"]
        jf = f"{tj / pf['ms_per_step']:.2f}" if pf else "-"
        nj = f"{pn['ms_per_step'] / tj:.1f}" if pn else "-"
        ok_f = "yes" if pf and tj <= 1.5 * pf["ms_per_step"] else ("no" if pf else "-")
        ok_n = "yes" if pn and pn["ms_per_step"] >= 5 * tj else ("no" if pn else "-")
        rows.append([pj["impl"], pj["precision"], pj["ranks"], f"{pj['nx']}x{pj['ny']}",
                     jf, ok_f, nj, ok_n])
    return rows


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def point_rows(points):
    rows = []
    for p in sorted(points, key=lambda p: (p["impl"], p["precision"], p["ranks"],
                                           p["nx"] * p["ny"])):
        if p["status"] != "ok":
            rows.append([p["impl"], p["ranks"], f"{p['nx']}x{p['ny']}", p["precision"],
                         p["steps"], p["status"], "", "", "", p.get("error", "")[:80]])
            continue
        rows.append([p["impl"], p["ranks"], f"{p['nx']}x{p['ny']}", p["precision"], p["steps"],
                     f"{p['ms_per_step']:.4g}", f"{p['ms_per_step_per_mcell']:.4g}",
                     f"{p['cell_updates_per_second'] / 1e6:.4g}",
                     f"{p['peak_rss_mib_max']:.0f}", ""])
    return rows


def _digest_note(points) -> str:
    digests = sorted({p["source_digest"] for p in points if p.get("source_digest")})
    if len(digests) <= 1:
        return ""
    return (f"Note: the sources changed while this ran ({len(digests)} source digests, "
            f"see `source_digest` per point in the JSON).\n")


def write_tables(path, points, machine, settings):
    ranks = settings["ranks"]
    parts = [
        f"# Benchmark results: {settings['tag']}", "",
        f"Machine: {machine.get('cpu_model')}, {machine.get('cpus_available')} cores available, "
        f"{machine.get('memory_gib')} GiB; {machine.get('mpirun')}; {machine.get('mpif90')}; "
        f"numpy {machine.get('numpy')}, jax {machine.get('jax')}; commit "
        f"{machine.get('git_commit')}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in machine.get('load_average_start', []))}, at end "
        f"{', '.join(f'{x:.2f}' for x in machine.get('load_average_end', []))}.", "",
        f"Median of {settings['repeats']} repeats of `steps` time steps each (warm-up and "
        f"compilation excluded); unstable-jet problem, MUSCL-MC/HLLC/SSP-RK3, "
        f"{settings['device']}; ranks bound to {settings['bind_to']}s (mpirun --bind-to); "
        f"N ranks use the process grid (1, N) (N = 2, 3) or the squarest one; "
        f"GLIBC_TUNABLES={machine.get('glibc_tunables', '')} ({machine.get('glibc', '')}). "
        f"Command: `{settings['command']}`.", "",
        _digest_note(points),
        "## All points", "",
        markdown_table(["impl", "ranks", "grid", "precision", "steps", "ms/step",
                        "ms/step/Mcell", "Mcell updates/s", "peak RSS/rank (MiB)", "note"],
                       point_rows(points)), "",
        "## Strong scaling (same grid)", "",
        markdown_table(["impl", "precision", "grid", "ranks", "ms/step 1 rank",
                        "ms/step N ranks", "speed-up", "efficiency %"],
                       strong_rows(points, ranks)), "",
        "## Weak scaling (same tile per rank)", "",
        markdown_table(["impl", "precision", "tile", "ranks", "grid N ranks",
                        "ms/step 1 rank", "ms/step N ranks", "efficiency %"],
                       weak_rows(points, ranks)), "",
        "## Performance goals (>= 1M cells per rank)", "",
        markdown_table(["JAX build", "precision", "ranks", "grid", "JAX/Fortran time",
                        "within 1.5x", "NumPy/JAX time", ">= 5x"], goal_rows(points)), ""]
    with open(path, "w") as fh:
        fh.write("\n".join(parts))


CSV_FIELDS = ["impl", "ranks", "procs", "nx", "ny", "cells", "precision", "steps", "status",
              "median_seconds", "ms_per_step", "ms_per_step_per_mcell",
              "cell_updates_per_second", "peak_rss_mib_max", "repeat_seconds", "error"]


def write_csv(path, points):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_FIELDS)
        for p in points:
            row = []
            for f in CSV_FIELDS:
                v = p.get(f, "")
                if isinstance(v, (list, tuple)):
                    v = " ".join(f"{x:.6g}" if isinstance(x, float) else str(x) for x in v)
                elif isinstance(v, float):
                    v = f"{v:.6g}"
                row.append(v)
            w.writerow(row)


# ------------------------------------------------------------------ plot
COLOURS = {"jax": "#1f77b4", "jax-avx2": "#17becf", "numpy": "#d62728", "fortran": "#2ca02c"}
DASHES = {1: "", 2: "6,3", 4: "2,3", 8: "8,3,2,3"}


def plot_series(points):
    """{label: (impl, ranks, [(cells, ms/step/Mcell), ...])} over the ok points."""
    series = {}
    for p in _ok(points):
        label = f"{p['impl']} {p['ranks']} rank{'s' if p['ranks'] > 1 else ''}"
        if len({q['precision'] for q in points}) > 1:
            label += f" {p['precision']}"
        series.setdefault(label, (p["impl"], p["ranks"], []))[2].append(
            (p["nx"] * p["ny"], p["ms_per_step_per_mcell"]))
    for _, _, pts in series.values():
        pts.sort()
    return series


def write_svg(path, series, title):
    """A log-log line plot (one polyline per series) as a standalone SVG."""
    W, H, left, right, top, bottom = 760, 500, 80, 200, 40, 60
    xs = [x for _, _, pts in series.values() for x, _ in pts]
    ys = [y for _, _, pts in series.values() for _, y in pts]
    if not xs:
        return False
    x_lo, x_hi = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y_lo, y_hi = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x_hi, y_hi = max(x_hi, x_lo + 1), max(y_hi, y_lo + 1)
    pw, ph = W - left - right, H - top - bottom

    def X(x):
        return left + pw * (math.log10(x) - x_lo) / (x_hi - x_lo)

    def Y(y):
        return top + ph * (1 - (math.log10(y) - y_lo) / (y_hi - y_lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for e in range(x_lo, x_hi + 1):
        for k in (range(1, 10) if e < x_hi else (1,)):
            x = X(k * 10.0 ** e)
            shade = "#bbb" if k == 1 else "#eee"
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
                       f'stroke="{shade}"/>')
        out.append(f'<text x="{X(10.0 ** e):.1f}" y="{top + ph + 18}" '
                   f'text-anchor="middle">1e{e}</text>')
    for e in range(y_lo, y_hi + 1):
        for k in (range(1, 10) if e < y_hi else (1,)):
            y = Y(k * 10.0 ** e)
            shade = "#bbb" if k == 1 else "#eee"
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                       f'stroke="{shade}"/>')
        out.append(f'<text x="{left - 6}" y="{Y(10.0 ** e) + 4:.1f}" '
                   f'text-anchor="end">1e{e}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               f'stroke="black"/>')
    out.append(f'<text x="{left + pw / 2}" y="{H - 18}" text-anchor="middle">'
               f'number of grid cells</text>')
    out.append(f'<text transform="translate(20,{top + ph / 2}) rotate(-90)" '
               f'text-anchor="middle">wall time per step per 1M cells (ms)</text>')
    for i, (label, (impl, ranks, pts)) in enumerate(sorted(series.items())):
        colour, dash = COLOURS.get(impl, "black"), DASHES.get(ranks, "1,2")
        coords = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="2" stroke-dasharray="{dash}"/>')
        for x, y in pts:
            out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{colour}"/>')
        ly = top + 10 + 20 * i
        out.append(f'<line x1="{left + pw + 12}" y1="{ly}" x2="{left + pw + 42}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{left + pw + 48}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    return True


def write_png(path, series, title) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7.6, 5))
    for label, (impl, ranks, pts) in sorted(series.items()):
        dash = DASHES.get(ranks, "1,2")
        ax.loglog([x for x, _ in pts], [y for _, y in pts], marker="o", label=label,
                  color=COLOURS.get(impl, "black"),
                  dashes=[float(d) for d in dash.split(",")] if dash else [])
    ax.set_xlabel("number of grid cells")
    ax.set_ylabel("wall time per step per 1M cells (ms)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ------------------------------------------------------------------ main
def parse_args(argv):
    p = _Parser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", nargs="+", default=["jax", "numpy", "fortran"], choices=IMPLS)
    p.add_argument("--ranks", nargs="+", type=int, default=None, help="default: 1 2")
    p.add_argument("--sizes", nargs="+", default=None,
                   help="nx (square grid), NXxNY, or a cell count (>= 1e4), e.g. 1.6e7")
    p.add_argument("--precision", nargs="+", default=["float64"],
                   choices=("float64", "float32"))
    p.add_argument("--steps", type=int, default=None,
                   help="steps per timed repeat (default: chosen per point, ~1 s)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed steps before timing (JAX: one untimed run of --steps)")
    p.add_argument("--scaling", nargs="*", default=None, choices=("strong", "weak"),
                   help="N-rank points: the same grid (strong) and/or N x the cells (weak); "
                        "default both (--quick: strong)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: sizes 64 and 128, 1 and 2 ranks, 5 steps")
    p.add_argument("--device", default="cpu", choices=("cpu", "gpu"))
    p.add_argument("--out", default=os.path.join("benchmarks", "results"))
    p.add_argument("--tag", default=None, help="file name stem (default: quick or DEVICE)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per point")
    p.add_argument("--max-cells", type=float, default=2.1e7,
                   help="leave out points with more cells than this (weak-scaling grids)")
    p.add_argument("--bind-to", default="core", choices=("core", "socket", "none"),
                   help="mpirun process binding (core: one rank = one core, also for "
                        "JAX, whose XLA:CPU would otherwise use every core)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or QUICK["sizes"]
        args.steps = args.steps or QUICK["steps"]
        args.ranks = args.ranks or QUICK["ranks"]
    if args.scaling is None:
        args.scaling = ["strong"] if args.quick else ["strong", "weak"]
    args.sizes = [parse_size(s) for s in (args.sizes or DEFAULT_SIZES)]
    args.ranks = args.ranks or [1, 2]
    if any(n < 1 for n in args.ranks):
        raise UsageError("--ranks must be positive")
    if args.repeats < 1 or (args.steps is not None and args.steps < 1) or args.warmup < 0:
        raise UsageError("--repeats and --steps must be >= 1, --warmup >= 0")
    args.tag = args.tag or ("quick" if args.quick else args.device)
    if not re.fullmatch(r"[\w.-]+", args.tag):
        raise UsageError(f"bad --tag {args.tag!r}")
    return args


def plan(args) -> list[dict]:
    """The points to run, smallest first, without duplicates."""
    points, seen = [], set()
    for precision in args.precision:
        for nx, ny in sorted(args.sizes, key=lambda s: s[0] * s[1]):
            for n in sorted(set(args.ranks)):
                grids = [(nx, ny)] if n == 1 else []
                if n > 1 and "strong" in args.scaling:
                    grids.append((nx, ny))
                if n > 1 and "weak" in args.scaling:
                    grids.append((nx, n * ny))
                for gx, gy in grids:
                    if gx * gy > args.max_cells:
                        continue
                    for impl in args.impl:
                        key = (impl, n, gx, gy, precision)
                        if key in seen:
                            continue
                        seen.add(key)
                        steps = args.steps or auto_steps(impl, gx * gy // n)
                        points.append({"impl": impl, "ranks": n, "procs": list(procs_for(n)),
                                       "nx": gx, "ny": gy, "cells": gx * gy,
                                       "precision": precision, "steps": steps})
    return sorted(points, key=lambda p: (p["precision"], p["cells"], p["ranks"], p["impl"]))


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        sys.stderr.write(f"benchmarks.run: error: {err}\n")
        return 2
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # this process only writes problems
    sys.path.insert(0, ROOT)
    from benchmarks.problem import benchmark_config, write_problem

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    impls = list(args.impl)
    if "fortran" in impls and not ensure_fortran(log):
        impls.remove("fortran")
    args.impl = impls
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if max(args.ranks) > cores:
        log(f"warning: {max(args.ranks)} ranks on {cores} cores: oversubscribed, "
            f"timings are not meaningful")
    machine = machine_info(args.device)
    points = plan(args)
    settings = {"tag": args.tag, "impl": impls, "ranks": sorted(set(args.ranks)),
                "sizes": [list(s) for s in args.sizes], "precision": args.precision,
                "steps": args.steps, "repeats": args.repeats, "warmup": args.warmup,
                "scaling": args.scaling, "device": args.device, "quick": args.quick,
                "bind_to": args.bind_to, "max_cells": args.max_cells,
                "command": "python -m benchmarks.run " + " ".join(
                    sys.argv[1:] if argv is None else argv),
                "problem": "unstable_jet, muscl/mc, hllc, ssp_rk3, dt = 0.5 x CFL dt of "
                           "the initial state"}
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="dycore-bench-")
    t_start = time.perf_counter()
    problems = {}
    try:
        for i, point in enumerate(points):
            grid = (point["nx"], point["ny"])
            if grid not in problems:
                directory = os.path.join(workdir, f"{grid[0]}x{grid[1]}")
                try:
                    write_problem(directory, benchmark_config(*grid))
                    problems[grid] = directory
                except Exception as err:  # noqa: BLE001 - recorded, the run goes on
                    problems[grid] = None
                    log(f"cannot write the {grid[0]}x{grid[1]} problem: {err}")
            if problems[grid] is None:
                point.update(status="failed", error="problem could not be written")
            else:
                run_point(point, problems[grid], args, log)
            desc = (f"[{i + 1}/{len(points)}] {point['impl']:8s} {point['ranks']} rank(s) "
                    f"{point['nx']}x{point['ny']} {point['precision']}: ")
            if point["status"] == "ok":
                log(desc + f"{point['ms_per_step_per_mcell']:.4g} ms/step/Mcell, "
                    f"{point['cell_updates_per_second'] / 1e6:.4g} Mcell-updates/s, "
                    f"{point['peak_rss_mib_max']:.0f} MiB/rank")
            else:
                log(desc + f"{point['status']}: {point.get('error', '')}")
            if len(problems) > 1:  # keep only the current grid's files on disk
                for g in [g for g in problems if g != grid and problems[g]]:
                    if not any((p["nx"], p["ny"]) == g for p in points[i + 1:]):
                        shutil.rmtree(problems[g], ignore_errors=True)
                        problems[g] = None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    machine["load_average_end"] = list(os.getloadavg())
    settings["total_seconds"] = round(time.perf_counter() - t_start, 1)
    stem = os.path.join(args.out, args.tag)
    with open(stem + ".json", "w") as fh:
        json.dump({"machine": machine, "settings": settings, "points": points}, fh, indent=1)
    write_csv(stem + ".csv", points)
    write_tables(stem + ".md", points, machine, settings)
    series = plot_series(points)
    title = f"dycore shallow water, {args.device.upper()}: {machine.get('cpu_model', '')}"
    written = [stem + ext for ext in (".json", ".csv", ".md")]
    if write_svg(stem + ".svg", series, title):
        written.append(stem + ".svg")
    if write_png(stem + ".png", series, title):
        written.append(stem + ".png")
    log(f"wrote {', '.join(written)} in {settings['total_seconds']} s")
    failed = [p for p in points if p["status"] != "ok"]
    if failed:
        log(f"{len(failed)} of {len(points)} points failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
