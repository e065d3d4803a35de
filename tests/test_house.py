"""The house rules (issue 16), checked on every run: modules and functions
small enough to read, imports at the top where a reader sees who needs
whom, benchmarks that import the installed package as users do."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the product: what the appliance runs
PRODUCT = [p for d in ("firmware_host", "web") for p in sorted((ROOT / d).rglob("*.py"))]
EVERYWHERE = PRODUCT + [p for d in ("tests", "benchmarks", "scripts", "hardware")
                        for p in sorted((ROOT / d).rglob("*.py"))]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
#: imported inside functions on purpose, each documented where it is imported: spidev exists on
#: Linux only (pyproject's marker), playwright not on 32-bit ARM, mne and schemdraw are extras, and so
#: is cosmic_ray (the mutation extra: scripts/mutation_tool.py's parsers are tested without it)
OPTIONAL = {"spidev", "playwright", "mne", "schemdraw", "cosmic_ray"}
#: imported inside one function on purpose, each documented there: scipy.signal costs 75 MB, so the
#: detector's filters load it only for a rate outside their table, the simulator only to draw a
#: night through the v2 board (tests/test_simulator_lean.py); fpdf2 costs the page 44 MB, so the
#: page loads the PDF writer only when someone asks for the doctor's report; scipy.optimize costs
#: every replay 0.25 s and 40 MB, so the injection check loads it only to fit its recovery curve
LAZY = {"firmware_host/detector/filters.py": {"scipy"}, "firmware_host/injection.py": {"scipy"},
        "firmware_host/simulator/night.py": {"firmware_host.frontend_digital"},
        "web/report.py": {"firmware_host.report_pdf"}}
MARK = "noqa: " + "PLC0415"  #: (spelt in two so that this file does not count itself)


def test_no_module_over_400_lines():
    big = {str(p.relative_to(ROOT)): n for p in PRODUCT if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert big == {}


def test_no_function_over_60_lines():
    long = []
    for p in PRODUCT:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name} ({n} lines)")
    assert long == []


def _function_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import inside a function (``from a import b``: a.b; relative: ".")."""
    out = []
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    out += [(node.lineno, a.name) for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    out += [(node.lineno, "." if node.level else f"{node.module}.{a.name}") for a in node.names]
    return out


def _allowed(rel: str, mod: str) -> bool:
    return mod.split(".")[0] in OPTIONAL or any(mod == m or mod.startswith(m + ".") for m in LAZY.get(rel, ()))


def test_imports_inside_functions_only_for_optional_dependencies():
    """In the product none at all; anywhere, none marked to hide it from the linter."""
    hidden = [f"{p.relative_to(ROOT)}:{line} {mod}" for p in PRODUCT
              for line, mod in _function_imports(p) if not _allowed(p.relative_to(ROOT).as_posix(), mod)]
    assert hidden == []
    marked = [f"{p.relative_to(ROOT)}:{i}" for p in EVERYWHERE
              for i, line in enumerate(p.read_text().splitlines(), 1)
              if MARK in line and not any(re.search(rf"\bimport {m}\b|\bfrom {m}\b", line)
                                          for m in OPTIONAL | {x.split(".")[0] for x in
                                                               LAZY.get(p.relative_to(ROOT).as_posix(), ())})]
    assert marked == []


def test_benchmarks_import_the_installed_package_without_path_edits():
    edits = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "benchmarks").glob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"sys\.path\.(insert|append)", line)]
    assert edits == []


def test_every_package_is_in_pyproject():
    """A subpackage missing from pyproject's list is missing from a real (not editable) install."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
             for d in ("firmware_host", "web") for p in (ROOT / d).rglob("__init__.py")}
    assert found - listed == set()
