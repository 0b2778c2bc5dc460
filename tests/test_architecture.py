"""The package's layering, read from its imports: the core imports no bridge, and no subpackages form a cycle.

Core: what pretraining needs (backbones, checkpoint, config, data, engine, modeling, registry,
utils). Bridges: convert, detection, fgvc, analysis, model_zoo. The CLI may import anything;
nothing imports the CLI.
"""

import ast
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "ctc_plugin")
CORE = {"backbones", "checkpoint", "config", "data", "engine", "modeling", "registry", "utils"}
BRIDGES = {"convert", "detection", "fgvc", "analysis", "model_zoo"}
# Above the bridges, below the tools: the study runner (it starts the tools as processes).
STUDY = "study"
TOOLS = (
    "pretrain", "train_net", "finetune_fgvc", "convert_weights", "temporal_transfer", "estimate_mi", "study", "demo",
    "submit",
)  # fmt: skip


def subpackage_imports():
    """{subpackage: {subpackages it imports}} from every ``from ..x`` / ``import ctc_plugin.x`` in it."""
    edges = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, PACKAGE).split(os.sep)
            if len(relative) == 1:
                continue  # the package __init__ registers what is installed
            owner = relative[0].removesuffix(".py")
            depth = len(relative) - 1  # how many dots reach ctc_plugin
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                targets = []
                if isinstance(node, ast.ImportFrom):
                    if node.level == 0 and (node.module or "").startswith("ctc_plugin."):
                        targets = [node.module.split(".")[1]]
                    elif node.level > depth:  # from ..x import y, from .. import x
                        targets = [node.module.split(".")[0]] if node.module else [a.name for a in node.names]
                elif isinstance(node, ast.Import):
                    targets = [a.name.split(".")[1] for a in node.names if a.name.startswith("ctc_plugin.")]
                edges.setdefault(owner, set()).update(t for t in targets if t != owner)
    return edges


def test_the_core_imports_no_bridge_and_nothing_imports_the_cli():
    edges = subpackage_imports()
    for owner, imported in edges.items():
        if owner in CORE:
            assert not imported & (BRIDGES | {"cli"}), (owner, imported & (BRIDGES | {"cli"}))
        if owner != "cli":
            assert "cli" not in imported, owner
    assert not edges["convert"] & {"detection", "fgvc", "analysis"}  # the generic converter needs no bridge
    for owner in CORE | BRIDGES:  # the core and the bridges know nothing of studies
        assert STUDY not in edges.get(owner, set()), owner


def test_no_import_cycle_between_subpackages():
    edges = subpackage_imports()

    def reaches(start, goal, seen):
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(owner for owner in edges if reaches(owner, owner, {owner}))
    assert cycles == []


@pytest.mark.parametrize("tool", TOOLS)
def test_tools_are_short_scripts_over_the_package_entry_points(tool):
    with open(os.path.join(REPO, "tools", f"{tool}.py")) as f:
        script = f.read()
    assert "sys.path" not in script and f"from ctc_plugin.cli.{tool} import main" in script
    assert "sys.exit(main())" in script and len(script.splitlines()) < 20
    with open(os.path.join(PACKAGE, "cli", f"{tool}.py")) as f:
        module = f.read()
    assert re.search(r"^def main\(argv: Optional\[List\[str\]\] = None\) -> int:", module, re.M)


def test_every_tool_is_a_console_script():
    from ctc_plugin.cli import COMMANDS

    assert sorted(COMMANDS) == sorted(TOOLS)
    assert COMMANDS["convert_weights"] == "ctc-convert" and COMMANDS["train_net"] == "ctc-train-net"


def test_weights_are_read_in_one_place():
    """torch.load is called by the one reader of weight files only."""
    callers = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name)) as f:
                    if "torch.load(" in f.read():
                        callers.append(os.path.relpath(os.path.join(folder, name), PACKAGE))
    assert callers == [os.path.join("checkpoint", "weights.py")]


def test_utils_need_torch_alone():
    """What every tool uses before it knows whether it trains (logging, launchers, errors) imports no bridge library."""
    bridged = []
    folder = os.path.join(PACKAGE, "utils")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name)) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module]
                bridged += [(name, m) for m in modules if m.split(".")[0] in ("detectron2", "timm")]
    assert bridged == []
