"""The speed figures of issue 17 in one command: gradient/forward ratios,
forward ms/step/Mcell of JAX, NumPy and Fortran in float64 and float32,
and compile times.

    .venv/bin/python -m benchmarks.speed [--sizes 1024] [--grad-n 256] [--grad-steps 20]
                                         [--repeats 3] [--tag speed]

Runs, each in its own process (so that nothing is compiled beforehand):

1. ``benchmarks.run --impl jax numpy fortran --ranks 1 --sizes SIZES
   --precision float64 float32`` (the forward step; one rank, the
   benchmark protocol of benchmarks/PROTOCOL.md; builds the Fortran
   baseline with ``make fortran`` first);
2. ``benchmarks.gradient --n GRAD_N --steps GRAD_STEPS --lengths 100 1000``
   (wall time of ``jax.grad`` of a GRAD_STEPS rollout over the forward
   run, for each checkpoint mode; gradient memory per step);
3. ``benchmarks.compile_time --repeats REPEATS`` (start to first step of
   the default run, cold and warm cache; trace and compile of the first
   gradient of a 20-step rollout at 128^2).

Their own results files go to benchmarks/results/TAG_forward.*,
TAG_gradient.json and TAG_compile.json; the summary (the table it prints)
to TAG.json and TAG.md. Timings depend on the machine and its load (each
part records its load average); compare ratios, or runs on one machine.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("None", "step", "nested")


def _run(args: list[str]) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, cwd=ROOT, check=True)


def forward_rows(points: list[dict]) -> list[dict]:
    """Per (grid, precision): ms/step/Mcell of each implementation and the
    ratios JAX/Fortran and NumPy/JAX (None where a point is missing)."""
    rows = {}
    for p in points:
        if p.get("status") != "ok" or p.get("ranks") != 1:
            continue
        key = (f"{p['nx']}x{p['ny']}", p["precision"])
        rows.setdefault(key, {})[p["impl"]] = p["ms_per_step_per_mcell"]
    out = []
    for (grid, precision), ms in sorted(rows.items()):
        jax_ms, fortran_ms, numpy_ms = ms.get("jax"), ms.get("fortran"), ms.get("numpy")
        out.append({"grid": grid, "precision": precision, "ms_per_step_per_mcell": ms,
                    "jax_over_fortran": jax_ms / fortran_ms if jax_ms and fortran_ms else None,
                    "numpy_over_jax": numpy_ms / jax_ms if jax_ms and numpy_ms else None})
    return out


def _fmt(x, spec=".3g"):
    return "-" if x is None else format(x, spec)


def summary_lines(forward: list[dict], gradient: dict, compile_times: dict) -> list[str]:
    """The Markdown summary of the three parts."""
    lines = ["## Forward step, 1 rank (ms/step/Mcell)", "",
             "| grid | precision | JAX | NumPy | Fortran | JAX / Fortran | NumPy / JAX |",
             "|---|---|---|---|---|---|---|"]
    for r in forward:
        ms = r["ms_per_step_per_mcell"]
        lines.append(f"| {r['grid']} | {r['precision']} | {_fmt(ms.get('jax'))} | "
                     f"{_fmt(ms.get('numpy'))} | {_fmt(ms.get('fortran'))} | "
                     f"{_fmt(r['jax_over_fortran'], '.2f')} | {_fmt(r['numpy_over_jax'], '.2f')} |")
    t = gradient["timing"]
    lines += ["", f"## Gradient of a {t['steps']}-step rollout at {gradient['n']}^2", "",
              "| checkpoint | gradient (s) | gradient / forward |", "|---|---|---|",
              f"| (forward) | {t['forward_s']:.3g} | 1 |"]
    for mode in MODES:
        if f"grad_{mode}_s" in t:
            lines.append(f"| {mode} | {t[f'grad_{mode}_s']:.3g} | {t[f'ratio_{mode}']:.2f} |")
    s, g = compile_times["startup"], compile_times["gradient"]
    lines += ["", "## Compile times", "",
              f"- start to first step of the default run: {s['cold_s']:.2f} s with an empty "
              f"compile cache, {s['warm_s']:.2f} s with a filled one",
              f"- first gradient of a {g['steps']}-step rollout at {g['n']}^2: trace "
              f"{g['gradient']['trace_s']:.2f} s + compile {g['gradient']['compile_s']:.2f} s; "
              f"the forward rollout: {g['forward']['trace_s']:.2f} s + "
              f"{g['forward']['compile_s']:.2f} s"]
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["1024"], help="forward grids (nx, NXxNY)")
    p.add_argument("--grad-n", type=int, default=256)
    p.add_argument("--grad-steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3, help="compile-time repeats")
    p.add_argument("--tag", default="speed")
    args = p.parse_args(argv)
    py = sys.executable
    _run(["make", "fortran"])
    _run([py, "-m", "benchmarks.run", "--impl", "jax", "numpy", "fortran", "--ranks", "1",
          "--sizes", *args.sizes, "--precision", "float64", "float32",
          "--tag", f"{args.tag}_forward"])
    _run([py, "-m", "benchmarks.gradient", "--n", str(args.grad_n), "--steps",
          str(args.grad_steps), "--lengths", "100", "1000",
          "--out", str(RESULTS / f"{args.tag}_gradient.json")])
    _run([py, "-m", "benchmarks.compile_time", "--repeats", str(args.repeats),
          "--out", str(RESULTS / f"{args.tag}_compile.json")])
    forward = forward_rows(json.loads((RESULTS / f"{args.tag}_forward.json").read_text())["points"])
    gradient = json.loads((RESULTS / f"{args.tag}_gradient.json").read_text())
    compile_times = json.loads((RESULTS / f"{args.tag}_compile.json").read_text())
    lines = summary_lines(forward, gradient, compile_times)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(
        {"forward": forward, "gradient": gradient["timing"], "gradient_n": gradient["n"],
         "compile": compile_times}, indent=1))
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
