"""The commands the docs show exist (issue 14 item 7): every command line
of README.md and docs/*.md that starts with ``python -m``, ``mpirun``,
``make`` or ``python examples/...`` names a module or script that exists,
a Makefile target that exists, and only flags that the module's ``--help``
lists; the cheap ones (``--help``, ``--list-cases``) are run and must
succeed. Also: ``--help`` lists every config key with unit and default
(from Config's field metadata), ``--list-cases`` every case with its
parameters, and no case defaults to fewer than 10 output intervals.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from dycore.cases import CASES
from dycore.config import Config

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
START = re.compile(r"^(\$ )?(\.venv/bin/)?(python -m |python examples/|mpirun |make )")


def doc_commands() -> list[tuple[str, str]]:
    """(page, command line) for each command shown, continuation lines joined."""
    found = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        k = 0
        while k < len(lines):
            line = lines[k].strip()
            k += 1
            if not START.match(line):
                continue
            while line.endswith("\\") and k < len(lines):
                line = line[:-1] + " " + lines[k].strip()
                k += 1
            line = line.removeprefix("$ ").split("  #")[0].split(" # ")[0].strip()
            found.append((page.name, line))
    return found


COMMANDS = doc_commands()


def parse(command: str):
    """(kind, target, flags): kind "make", "module" or "script"."""
    words = shlex.split(command.replace("[", " ").replace("]", " ").replace("|", " "))
    if words[0] == "make":
        return "make", words[1] if len(words) > 1 and "=" not in words[1] else "all", []
    if words[0] == "mpirun":
        words = words[next(i for i, w in enumerate(words) if w.endswith("python")):]
    if words[1] == "-m":
        return "module", words[2], [w.split("=")[0] for w in words[3:] if w.startswith("--")]
    return "script", words[1], [w.split("=")[0] for w in words[2:] if w.startswith("--")]


@functools.lru_cache(maxsize=None)
def help_text(kind: str, target: str) -> str:
    argv = ["-m", target] if kind == "module" else [str(ROOT / target)]
    proc = subprocess.run([sys.executable, *argv, "--help"], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=_env())
    assert proc.returncode == 0, f"{target} --help failed: {proc.stderr[-1000:]}"
    return proc.stdout


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMI"))}


def test_the_docs_show_commands():
    shown = {c for _, c in COMMANDS}
    assert any("dycore.run --list-cases" in c for c in shown)
    assert any("dycore.plot" in c for c in shown)
    assert any(c.startswith("make ") for c in shown)


@pytest.mark.parametrize("page, command", COMMANDS, ids=[c for _, c in COMMANDS])
def test_command_exists_with_its_flags(page, command):
    kind, target, flags = parse(command)
    if kind == "make":
        makefile = (ROOT / "Makefile").read_text()
        assert re.search(rf"^{re.escape(target)}\s*:", makefile, flags=re.M), \
            f"{page}: make target {target!r} does not exist"
        return
    if kind == "module":
        assert importlib.util.find_spec(target) is not None, f"{page}: no module {target!r}"
    else:
        assert (ROOT / target).is_file(), f"{page}: no script {target!r}"
    text = help_text(kind, target)
    for flag in flags:
        assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", text), \
            f"{page}: {target} has no flag {flag} (command: {command})"


CHEAP = sorted({c for _, c in COMMANDS if re.search(r"--help|--list-cases", c)
                and not c.startswith("mpirun")})


@pytest.mark.parametrize("command", CHEAP)
def test_cheap_commands_run(command):
    words = shlex.split(command)
    words[0] = sys.executable if words[0].endswith("python") else words[0]
    proc = subprocess.run(words, capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()


def test_help_lists_every_config_key_with_unit_and_default():
    text = help_text("module", "dycore.run")
    table = text[text.index("config keys"):]
    for f in dataclasses.fields(Config):
        row = next((line for line in table.splitlines() if line.split()[:1] == [f.name]), None)
        assert row is not None, f"--help does not list config key {f.name!r}"
        assert f.metadata.get("help"), f"config key {f.name!r} has no help metadata"
        assert f.metadata["help"] in row and f" {f.metadata['unit'] or '-'} " in row
    assert re.search(r"^\s+cfl\s+-\s+0\.45\s", table, flags=re.M)
    assert re.search(r"^\s+t_end\s+s\s+case default\s", table, flags=re.M)
    assert re.search(r"^\s+dt\s+s\s+unset\s", table, flags=re.M)


def test_list_cases_shows_parameters_and_defaults():
    proc = subprocess.run([sys.executable, "-m", "dycore.run", "--list-cases"],
                          capture_output=True, text=True, timeout=300, env=_env())
    assert proc.returncode == 0
    out = proc.stdout
    for name, case in CASES.items():
        lines = out[out.index(f"{name}: {case.summary}"):].splitlines()
        block = " ".join([lines[0]] + [line for line in
                                       __import__("itertools").takewhile(
                                           lambda line: line.startswith(" "), lines[1:])])
        for param in case.defaults:
            assert f"{param} = " in block, f"--list-cases: {name} lacks parameter {param}"
        assert "t_end = " in block and "output_interval = " in block
    assert "h_left = 0.005 m" in out and "variant = 'stoker' (stoker | ritter)" in out


@pytest.mark.parametrize("name", list(CASES))
def test_default_runs_write_at_least_ten_frames(name):
    cfg = Config(case=name).resolved()
    assert cfg.t_end / cfg.output_interval >= 10 - 1e-9
    longer = Config(case=name, t_end=10 * cfg.t_end).resolved()
    assert longer.output_interval == (cfg.output_interval if name == "unstable_jet"
                                      else longer.t_end / 10)
