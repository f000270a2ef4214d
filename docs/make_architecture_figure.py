"""Draw docs/architecture.png: ddrid's parts and which imports which, read from the code.

    python docs/make_architecture_figure.py

The arrows are the imports found in the source (tests/core/test_engine_imports.py's
graph), so the picture cannot drift from the code; the boxes list each part's
modules.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.core.test_engine_imports import BASE, import_graph, part_of  # noqa: E402

# Where each part sits (x, y of the box centre) and what it is for.
PARTS = {
    "app": ((0.15, 0.90), "app/ (Qt): the desktop app"),
    "cli": ((0.50, 0.90), "cli.py: the ddrid command"),
    "bench": ((0.85, 0.90), "bench/: ddrid bench"),
    "console": ((0.85, 0.62), "console.py: progress bar"),
    "cluster": ((0.55, 0.62), "cluster/: scoring on Dask"),
    "pipeline": ((0.22, 0.62), "pipeline.py: whole jobs"),
    "model": ((0.15, 0.36), "model/: DDR-ID"),
    "io": ((0.50, 0.36), "io/: files in and out"),
    "objects": ((0.85, 0.36), "objects/: where patches come from"),
    "base": ((0.50, 0.08), "shared base"),
}


def part(mod: str) -> str:
    if mod.startswith("app"):
        return "app"
    if mod in BASE:
        return "base"
    return part_of(mod)


def edges() -> set:
    graph, _ = import_graph("ddrcore")
    found = {(part(m), part(d)) for m, deps in graph.items() for d in deps}
    app_graph, _ = import_graph("app")
    ddr, _ = import_graph("ddrcore")
    # app imports ddrcore modules: read them from app's source the same way.
    import ast

    for f in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ddrcore"):
                target = node.module
                names = [f"{target}.{a.name}" for a in node.names]
                hit = [n for n in names if n in ddr] or ([target] if target in ddr else [])
                found.update(("app", part(h)) for h in hit)
    del app_graph
    return {(a, b) for a, b in found if a != b and a in PARTS and b in PARTS and a != "__main__"}


def modules_of() -> dict:
    graph, _ = import_graph("ddrcore")
    out = {}
    for m in graph:
        out.setdefault(part(m), []).append(m.rsplit(".", 1)[-1])
    return out


def main() -> Path:
    fig, ax = plt.subplots(figsize=(12, 7.5), dpi=110)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    mods = modules_of()
    boxes = {}
    for name, ((x, y), title) in PARTS.items():
        w, h = 0.28, 0.13
        engine = name in ("model", "io", "objects", "base", "pipeline", "cluster")
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.008",
                                    fc="#e8f0fb" if engine else "#f4f4f4", ec="#30507a" if engine else "#666"))
        # A part's own module (cli.py in "cli") is its title; the base box lists base.py like the rest.
        listed = sorted(m for m in mods.get(name, []) if m != "__init__" and (m != name or name == "base"))
        ax.text(x, y + 0.035, title, ha="center", va="center", fontsize=8.5, weight="bold")
        if listed:
            import textwrap

            ax.text(x, y - 0.025, "\n".join(textwrap.wrap(", ".join(listed), 44)), ha="center", va="center",
                    fontsize=7, color="#333")
        boxes[name] = (x, y, w, h)
    for a, b in sorted(edges()):
        if b == "base":
            continue   # every part uses the base; one note says so instead of eight arrows
        (xa, ya, _, ha), (xb, yb, _, hb) = boxes[a], boxes[b]
        if ya == yb:   # same row: from side to side, two-way pairs on either side of the line
            sx, ex = (xa + 0.14, xb - 0.14) if xb > xa else (xa - 0.14, xb + 0.14)
            sa, sb = ya + (0.02 if xb > xa else -0.02), yb + (0.02 if xb > xa else -0.02)
            xa, xb = sx, ex
        else:
            sa = ya - ha / 2 if yb < ya else ya + ha / 2
            sb = yb + hb / 2 if yb < ya else yb - hb / 2
        curve = 0.0
        ax.add_patch(FancyArrowPatch((xa, sa), (xb, sb), arrowstyle="-|>", mutation_scale=10, lw=0.9,
                                     color="#30507a", alpha=0.75, connectionstyle=f"arc3,rad={curve}"))
    ax.text(0.0, 1.0, "ddrid: parts and imports (arrow = imports; blue = the Qt-free engine; "
            "every part also imports the shared base)", fontsize=10, va="top")
    out = ROOT / "docs" / "architecture.png"
    fig.savefig(out, bbox_inches="tight")
    return out


if __name__ == "__main__":
    print(main())
