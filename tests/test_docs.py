"""The documentation stays true to the code and to itself.

- docs/user-guide.md has one row per config key (the fields of
  ``dycore.config.Config``), no row for a key that does not exist, and each
  row's default agrees with the code ("case default" exactly where a case
  fills the key in);
- README.md stays a front page (at most 220 lines) that points at the pages;
- every relative link (and image) in README.md and docs/*.md points at a file
  of the repository, and every #anchor at a heading of its page;
- no page sends readers to ../shared (outside the repository) or presents
  ``dycore.io.consolidate`` as a command (it is a Python function).

Only ``dycore.config`` is imported (no JAX computation is run).
"""
from __future__ import annotations

import ast
import dataclasses
import pathlib
import re

import pytest

from dycore.config import Config, ConfigError

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
USER_GUIDE = DOCS / "user-guide.md"
PAGES = ("user-guide.md", "numerics.md", "verification.md", "parallel.md",
         "differentiation.md", "performance.md")
README_MAX_LINES = 220


def _pages() -> list[pathlib.Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _strip_code(text: str) -> str:
    """The text without fenced code blocks and inline code spans."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _without_fences(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.S | re.M)


def _section(text: str, title: str) -> list[str]:
    """The lines under the heading ``title`` up to the next heading of the
    same or a higher level."""
    lines = _without_fences(text).splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(#+)\s+(.*?)\s*$", line)
        if m and m.group(2) == title:
            level = len(m.group(1))
            out = []
            for rest in lines[i + 1:]:
                h = re.match(r"^(#+)\s", rest)
                if h and len(h.group(1)) <= level:
                    break
                out.append(rest)
            return out
    raise AssertionError(f"no heading {title!r}")


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row (escaped pipes stay inside a cell)."""
    inner = row.strip()
    assert inner.startswith("|") and inner.endswith("|"), row
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner[1:-1])]


def _key_rows() -> dict[str, list[str]]:
    """Config key -> cells (key, unit, default, meaning) of the user guide's table."""
    rows: dict[str, list[str]] = {}
    for line in _section(USER_GUIDE.read_text(), "Config keys"):
        if not line.startswith("| `"):
            continue
        cells = _cells(line)
        key = cells[0].strip("`")
        assert key not in rows, f"config key {key!r} has two rows in docs/user-guide.md"
        rows[key] = cells
    return rows


def _case_names() -> list[str]:
    """The valid case names, as the config's own error message lists them."""
    with pytest.raises(ConfigError) as err:
        Config(case="no_such_case").resolved()
    m = re.search(r"valid: (.+)$", str(err.value))
    assert m, f"the unknown-case error does not list the cases: {err.value}"
    names = [n.strip() for n in m.group(1).split(",")]
    assert "unstable_jet" in names
    return names


# -------------------------------------------------------------- (a) config keys
def test_config_key_table_has_a_row_for_every_key_and_no_other():
    keys = [f.name for f in dataclasses.fields(Config)]
    rows = _key_rows()
    assert len(rows) >= 10, "the config-key table was not found or is nearly empty"
    missing = [k for k in keys if k not in rows]
    unknown = [k for k in rows if k not in keys]
    assert not missing, f"config keys missing from docs/user-guide.md: {missing}"
    assert not unknown, f"docs/user-guide.md lists keys that Config does not have: {unknown}"
    for key, cells in rows.items():
        assert len(cells) == 4 and all(cells), (
            f"row of {key!r}: want four non-empty cells (key, unit, default, meaning), got {cells}")


def test_config_key_table_defaults_match_the_code():
    rows = _key_rows()
    resolved = [Config(case=name).resolved() for name in _case_names()]
    for f in dataclasses.fields(Config):
        default_cell = rows[f.name][2]
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:  # pragma: no cover - every key has a default today
            continue
        if default is None:
            filled = any(getattr(cfg, f.name) is not None for cfg in resolved)
            if filled:
                assert "case default" in default_cell, (
                    f"{f.name!r} is filled in by a case; its default should say 'case default', "
                    f"got {default_cell!r}")
            else:
                assert "case default" not in default_cell, (
                    f"no case fills {f.name!r} in, but the table says {default_cell!r}")
        else:
            plain = default_cell.replace("`", "").replace('"', "")
            assert str(default) in plain or repr(default) in plain, (
                f"{f.name!r}: the code's default is {default!r}, the table says {default_cell!r}")


def test_every_case_is_documented_with_its_parameters():
    section = "\n".join(_section(USER_GUIDE.read_text(), "Test cases"))
    documented = re.findall(r"^\| `(\w+)` \|", section, flags=re.M)
    names = _case_names()
    assert sorted(documented) == sorted(names), (
        f"docs/user-guide.md, Test cases: documented {documented}, the code has {names}")
    for name in names:
        params = Config(case=name).resolved().case_params
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
        for param in params:
            assert f"`{param}`" in row, f"case {name!r}: parameter {param!r} is not documented"


# ---------------------------------------------------------------- (b) README
def test_readme_is_a_short_front_page_pointing_at_the_docs():
    text = README.read_text()
    n_lines = len(text.splitlines())
    assert n_lines <= README_MAX_LINES, f"README.md has {n_lines} lines (at most {README_MAX_LINES})"
    for page in PAGES:
        assert (DOCS / page).is_file(), f"docs/{page} is missing"
        assert f"](docs/{page})" in text, f"README.md does not link docs/{page}"
    for command in ("make test", "make run", "python -m dycore.run", "mpirun -n"):
        assert command in text, f"README.md does not show {command!r}"
    # A program enables float64 itself: configure() comes before the first gradient.
    assert "dycore.runtime.configure()" in text
    assert text.index("dycore.runtime.configure()") < text.index("jax.grad(")


# ------------------------------------------------------------- (c) the links
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading text."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: pathlib.Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in _without_fences(path.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = _slug(m.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(path: pathlib.Path) -> list[str]:
    return _LINK.findall(_strip_code(path.read_text()))


def test_slug_follows_github():
    assert _slug("Round 3: two ranks that took turns, page faults, the ISA") == \
        "round-3-two-ranks-that-took-turns-page-faults-the-isa"
    assert _slug("Stopping a run (cluster time limit, Ctrl-C)") == \
        "stopping-a-run-cluster-time-limit-ctrl-c"
    assert _slug("Agreement (`tests/test_baselines.py`)") == "agreement-teststest_baselinespy"


def test_relative_links_point_at_files_and_headings():
    checked, broken = 0, []
    for page in _pages():
        for target in _links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(ROOT)}: ({target})"
            if ROOT not in dest.parents and dest != ROOT:
                broken.append(f"{where} leaves the repository")
            elif not dest.is_file():
                broken.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{where}: no heading #{anchor} in {dest.relative_to(ROOT)}")
            checked += 1
    assert checked >= 30, f"only {checked} links found; is the link pattern broken?"
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_link_check_catches_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n[ok](#title) [bad](nowhere.md) `[code](ignored.md)`\n"
                    "```\n[fenced](ignored_too.md)\n```\n")
    assert _links(page) == ["#title", "nowhere.md"]
    assert _anchors(page) == {"title"}


# ------------------------------------------- (d) ../shared, consolidate as a command
def test_no_page_points_outside_the_repository():
    for page in _pages():
        text = page.read_text()
        assert "../shared" not in text, f"{page.relative_to(ROOT)} mentions ../shared"
        assert "shared/VERIFICATION" not in text, \
            f"{page.relative_to(ROOT)} cites the shared VERIFICATION.md; cite docs/verification.md"


def test_consolidate_is_shown_as_a_function_not_a_command():
    for page in _pages():
        text = page.read_text()
        where = page.relative_to(ROOT)
        assert not re.search(r"-m\s+dycore\.io", text), f"{where}: 'python -m dycore.io...' is no command"
        for m in re.finditer(r"dycore\.io\.consolidate\b", text):
            assert text[m.end():m.end() + 1] == "(", (
                f"{where}: 'dycore.io.consolidate' must appear as a call, "
                f"not as a command: ...{text[max(0, m.start() - 40):m.end() + 20]!r}")
    guide = USER_GUIDE.read_text()
    assert "from dycore.io import consolidate" in guide and "consolidate(" in guide
    # ... and the function exists where the guide imports it from (read, not imported: no h5py).
    io_dir = ROOT / "dycore" / "io"
    defined = [p.name for p in io_dir.glob("*.py")
               if any(isinstance(node, ast.FunctionDef) and node.name == "consolidate"
                      for node in ast.walk(ast.parse(p.read_text())))]
    assert defined, "dycore/io defines no function consolidate"
    assert re.search(r"\bconsolidate\b", (io_dir / "__init__.py").read_text()), \
        "dycore.io does not export consolidate"
