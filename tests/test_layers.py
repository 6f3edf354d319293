"""The packages import one way (docs/architecture.md): jobdata at the bottom, then ranker,
serving, rewards and rlsum on top. rewards reaches the serving layer only through its
HTTP client. Every import statement counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("jobdata", "ranker", "serving", "rewards", "rlsum")
# What each package may import besides itself (modules: a package or one of its modules).
ALLOWED = {
    "jobdata": set(),
    "ranker": {"jobdata"},
    "serving": {"jobdata", "ranker"},
    "rewards": {"jobdata", "ranker", "serving.client"},
    "rlsum": {"jobdata", "ranker", "serving", "rewards"},
}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a Python source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in PACKAGES:
            # `from pkg import name`: a module of pkg, or a name its __init__ exports.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
    return found


def backward_imports(package: str, source: str) -> list[tuple[int, str]]:
    """The imports of `source` (a file of `package`) that break the rule."""
    wrong = []
    for line, module in imported_modules(source):
        top = module.split(".")[0]
        if top not in PACKAGES or top == package:
            continue
        if not any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED[package]):
            wrong.append((line, module))
    return wrong


def test_no_package_imports_against_the_layers():
    wrong = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            wrong += [f"{path.relative_to(REPO)}:{line} imports {module}" for line, module in backward_imports(package, path.read_text())]
    assert not wrong, "imports against the layer rule:\n" + "\n".join(wrong)


def test_the_check_catches_the_backward_imports_of_the_old_layout():
    # The arrows the layout before jobdata had: ranker read the data through rlsum, ranker's
    # pruning timed itself with the serving engine, the data format imported nothing else.
    assert backward_imports("ranker", "from rlsum.data import Dataset, load_dataset\n") == [(1, "rlsum.data")]
    assert backward_imports("ranker", "def f():\n    from serving.engine import load_engine\n") == [(2, "serving.engine")]
    assert backward_imports("ranker", "import serving.bench\n") == [(1, "serving.bench")]
    assert backward_imports("rewards", "from serving.engine import load_engine\n") == [(1, "serving.engine")]
    assert backward_imports("jobdata", "from ranker.scoring import load_ranker\n") == [(1, "ranker.scoring")]
    assert backward_imports("serving", "from rewards.kl import mean_bernoulli_kl\n") == [(1, "rewards.kl")]
    assert backward_imports("rewards", "from serving.client import ScoreClient\nfrom serving import client\n") == []
    assert backward_imports("rlsum", "import ranker\nfrom serving.client import ScoreClient\n") == []
