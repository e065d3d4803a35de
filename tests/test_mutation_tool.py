"""scripts/mutation_tool.py's parts that need no cosmic-ray: the equivalent
mutants docs/mutation.md lists are all read back, and annotations (never
evaluated in these modules) are found where they are."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "scripts" / "mutation_tool.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_every_listed_equivalent_is_read_and_names_a_line_of_its_module():
    md = ROOT / "docs" / "mutation.md"
    bullets = [ln for ln in md.read_text(encoding="utf-8").splitlines() if ln.startswith("- `")]
    assert bullets
    read = 0
    for module in {ln.split("`")[1] for ln in bullets}:
        eq = tool.equivalents(md, module)
        assert (ROOT / module).is_file(), f"docs/mutation.md lists equivalents of {module}, which is gone: " \
                                          "move them to the file that now holds those lines"
        source = (ROOT / module).read_text(encoding="utf-8")
        for (_op, before, _after), why in eq.items():
            assert before in source, (module, before)  # still a line of the module, or the entry is stale
            assert len(why) > 20, why
        read += len(eq)
    assert read == len(bullets)


def test_changed_lines_of_a_diff():
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-    if a < b:\n+    if a <= b:\n"
    assert tool.changed_lines(diff) == ("if a < b:", "if a <= b:")


def test_annotations_are_found_only_where_they_are_postponed(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("from __future__ import annotations\n\ndef f(a: int | None, *, b: str = 'x') -> list[int]:\n"
                 "    c: float = 1 + 2\n    return [a]\n")
    spans = tool.annotation_spans(p)
    assert ((3, 9), (3, 19)) in spans and ((3, 27), (3, 30)) in spans and ((3, 41), (3, 50)) in spans
    assert ((4, 7), (4, 12)) in spans
    assert not any(a <= (4, 15) < b for a, b in spans)  # 1 + 2 is code, not annotation
    p.write_text("def f(a: int | None) -> None:\n    pass\n")
    assert tool.annotation_spans(p) == []  # evaluated at definition: mutants there are real
