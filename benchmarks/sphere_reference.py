"""Williamson et al. (1992) tests 5 and 6 and the Galewsky et al. (2004)
jet against a high-resolution spectral reference (Dinosaur).

    make reference-env                                     # .venv-reference/ (dinosaur)
    .venv-reference/bin/python -m benchmarks.sphere_reference make-reference --truncation 106
    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.sphere_reference compare --sizes 24 48 96
    PYTHONPATH=$PWD .venv/bin/python -m benchmarks.sphere_reference converge \\
        --coarse benchmarks/results/tmp_reference_T85 --fine benchmarks/results/reference

``make-reference`` (reference environment only; see
:mod:`benchmarks.spectral_reference`) runs the cases at truncation T and
writes ``<out>/<case>.npz`` (lon, lat (degrees) of the Gaussian grid;
float32 fields (nlat, nlon): ``h`` the depth (m), for test 5 also
``surface`` = h + b (m), for the jet ``vorticity`` (1/s)) and
``<out>/reference.json`` (truncation, dt, steps, wall time per case).

``compare`` (the project's environment) runs SphereModel
(MUSCL-MC/HLLC/SSP-RK3, float64, one process, the fixed step of
benchmarks/sphere_invariants.py: the initial CFL step at cfl 0.45 shortened
to a whole number of steps per day) to each case's end time, interpolates
the reference to our cell centres (:mod:`benchmarks.gaussian_interpolation`)
and reports Williamson's normalised l1, l2, linf errors of the depth h
(W92 eqs. 82-84, area-weighted: ``SphereModel.height_errors``). Test 5:
the smooth surface h + b of the reference is interpolated and our exact
cone subtracted, so the reference's h is the depth above the same
mountain. Writes benchmarks/results/sphere_reference.{json,md} (or --tag).

``converge`` interpolates two references to the C ``--n`` cell centres and
reports the same norms of their difference: the reference's own error.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import platform
import sys
import time
from types import SimpleNamespace

import numpy as np

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
REFERENCE = RESULTS / "reference"
CACHE = RESULTS / "tmp_sphere_reference"          # our end states (git-ignored)
CASES = ("williamson5", "williamson6", "galewsky")


def load_reference(directory, case):
    """(lon, lat, field) of the reference: test 5's surface h + b, else h."""
    with np.load(pathlib.Path(directory) / f"{case}.npz") as f:
        name = "surface" if "surface" in f.files else "h"
        return f["lon"], f["lat"], f[name].astype(np.float64)


def reference_depth(directory, case, points, bed):
    """The reference depth h (m) at unit vectors ``points`` over ``bed``."""
    from benchmarks.gaussian_interpolation import interpolate_gaussian

    lon, lat, field = load_reference(directory, case)
    values = interpolate_gaussian(lon, lat, field, points)
    return values - bed if case == "williamson5" else values


def interpolation_error(model, directory, case):
    """W92 l2 error of the case's initial depth put on the reference's
    Gaussian grid and interpolated back to our cell centres (the error the
    interpolation alone adds; test 5: through the surface h + b)."""
    from benchmarks.gaussian_interpolation import interpolate_gaussian

    lon, lat, _ = load_reference(directory, case)
    lam, phi = np.meshgrid(np.radians(lon), np.radians(lat))
    nodes = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], -1)
    at_nodes = model._case_data.__func__(SimpleNamespace(
        _r_global=nodes, radius=model.radius, omega=model.omega, g=model.g, case=case,
        perturbed=True, alpha=0.0))
    exact = model.data.h + model.data.bed
    got = interpolate_gaussian(lon, lat, at_nodes.h + at_nodes.bed, model._r_global)
    return errors_against(model, got - model.data.bed, exact - model.data.bed)["l2"]


def make_reference(args) -> int:
    from benchmarks.spectral_reference import simulate

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "reference.json"
    facts = json.loads(index.read_text()) if index.exists() else {}
    for case in args.cases:
        fields, row = simulate(case, args.truncation, args.dt)
        np.savez_compressed(out / f"{case}.npz", lon=fields["lon"], lat=fields["lat"],
                            **{k: v.astype(np.float32) for k, v in fields.items()
                               if k not in ("lon", "lat")})
        facts[case] = row
        index.write_text(json.dumps(facts, indent=1) + "\n")
        print(json.dumps(row), flush=True)
    return 0


def errors_against(model, h, ref):
    return model.height_errors(SimpleNamespace(h=h), SimpleNamespace(h=ref))


def run_model(case, n, rerun=False):
    """SphereModel at C n to the case's end time; (model, end depth h, facts).
    The end depth and facts are kept in CACHE/<case>_C<n>.npz and reused
    unless ``rerun``, so a new reference costs no new runs."""
    from benchmarks.sphere_invariants import fixed_step
    from dycore.sphere import SphereModel

    model = SphereModel(n, case=case)
    path = CACHE / f"{case}_C{n}.npz"
    if path.exists() and not rerun:
        with np.load(path) as f:
            return model, f["h"], json.loads(str(f["facts"]))
    s0 = model.initial_state()
    days, samples, _, steps, dt = fixed_step(model, s0, None, 1.0)
    tic = time.perf_counter()
    s = model.run(s0, steps * samples, dt=dt)
    s.h.block_until_ready()
    facts = {"days": days, "steps": steps * samples, "dt": float(dt),
             "seconds": time.perf_counter() - tic,
             "mass_drift": (model.mass(s) - model.mass(s0)) / model.mass(s0)}
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, h=np.asarray(s.h), facts=json.dumps(facts))
    return model, np.asarray(s.h), facts


def compare(args) -> int:
    import dycore
    dycore.runtime.configure()

    rows = []
    for case in args.cases:
        previous = None
        for n in args.sizes:
            if args.cached_only and not (CACHE / f"{case}_C{n}.npz").exists():
                continue
            model, h, facts = run_model(case, n, args.rerun)
            if args.runs_only:
                print(json.dumps({"case": case, "n": n, **facts}), flush=True)
                continue
            ref = reference_depth(args.reference, case, model._r, np.asarray(model.params.b))
            errors = errors_against(model, h, ref)
            facts["interpolation_l2"] = interpolation_error(model, args.reference, case)
            orders = ({k: math.log(previous[k] / errors[k]) / math.log(2) for k in errors}
                      if previous else None)
            rows.append({"case": case, "n": n, **facts, "errors": errors, "orders": orders})
            print(json.dumps(rows[-1]), flush=True)
            previous = errors
    if not args.runs_only:
        write(args.tag, rows, args.reference)
    return 0


def write(tag, rows, reference):
    RESULTS.mkdir(exist_ok=True)
    meta = json.loads((pathlib.Path(reference) / "reference.json").read_text())
    machine = f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
    (RESULTS / f"{tag}.json").write_text(json.dumps(
        {"machine": machine, "reference": meta, "rows": rows}, indent=1) + "\n")
    lines = ["Normalised height errors (W92 eqs. 82-84, depth h) at the end time against "
             "the Dinosaur spectral reference, MUSCL-MC/HLLC/SSP-RK3, float64 (interp. l2: "
             "the l2 error the interpolation adds to the initial field)", "",
             "| case | reference | C N | days | steps | dt s | l1 | l2 | linf | order l1 "
             "| order l2 | order linf | interp. l2 | wall s |", "|---" * 14 + "|"]
    for r in rows:
        e, o = r["errors"], r["orders"] or {}
        lines.append(f"| {r['case']} | T{meta[r['case']]['truncation']} | C{r['n']} | "
                     f"{r['days']:g} | {r['steps']} | {r['dt']:.1f} | "
                     + " | ".join(f"{e[k]:.3e}" for k in ("l1", "l2", "linf")) + " | "
                     + " | ".join(f"{o[k]:.2f}" if k in o else "" for k in ("l1", "l2", "linf"))
                     + f" | {r['interpolation_l2']:.1e} | {r['seconds']:.0f} |")
    (RESULTS / f"{tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def converge(args) -> int:
    import dycore
    dycore.runtime.configure()
    from dycore.sphere import SphereModel

    rows = []
    for case in args.cases:
        model = SphereModel(args.n, case=case)
        bed = np.asarray(model.params.b)
        fine = reference_depth(args.fine, case, model._r, bed)
        coarse = reference_depth(args.coarse, case, model._r, bed)
        rows.append({"case": case, "n": args.n, "errors": errors_against(model, coarse, fine),
                     "coarse": json.loads((pathlib.Path(args.coarse) / "reference.json")
                                          .read_text())[case],
                     "fine": json.loads((pathlib.Path(args.fine) / "reference.json")
                                        .read_text())[case]})
        print(json.dumps(rows[-1]), flush=True)
    (RESULTS / f"{args.tag}.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [f"The reference's own error: W92 normalised depth errors of the coarse "
             f"reference against the fine one, both interpolated to the C{args.n} cell "
             "centres", "", "| case | coarse | fine | l1 | l2 | linf |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | T{r['coarse']['truncation']}, dt {r['coarse']['dt']:g} s | "
              f"T{r['fine']['truncation']}, dt {r['fine']['dt']:g} s | "
              + " | ".join(f"{r['errors'][k]:.2e}" for k in ("l1", "l2", "linf")) + " |"
              for r in rows]
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make-reference", help="run Dinosaur (reference environment)")
    m.add_argument("--truncation", type=int, default=106,
                   help="triangular truncation T (21 31 42 85 106 119 170 213 340 425)")
    m.add_argument("--dt", type=float, default=300.0, help="time step (s)")
    m.add_argument("--out", default=str(REFERENCE))
    m.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    c = sub.add_parser("compare", help="our model against the reference")
    c.add_argument("--sizes", type=int, nargs="+", default=[24, 48, 96])
    c.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    c.add_argument("--reference", default=str(REFERENCE))
    c.add_argument("--tag", default="sphere_reference")
    c.add_argument("--rerun", action="store_true",
                   help="run again even where CACHE has the end state")
    c.add_argument("--cached-only", action="store_true",
                   help="skip the sizes whose end state CACHE does not hold")
    c.add_argument("--runs-only", action="store_true",
                   help="only run (and cache) our model; no reference needed")
    v = sub.add_parser("converge", help="two references against each other")
    v.add_argument("--coarse", required=True)
    v.add_argument("--fine", default=str(REFERENCE))
    v.add_argument("--n", type=int, default=96)
    v.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    v.add_argument("--tag", default="sphere_reference_convergence")
    args = p.parse_args(argv)
    return {"make-reference": make_reference, "compare": compare,
            "converge": converge}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
