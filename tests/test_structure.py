"""The shape of the source: no private names across modules, a small contract, no pickle."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

SRC = ROOT / "src" / "xsell"


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module under src/xsell."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The module an ``from ... import`` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(module: str, path: Path) -> list[str]:
    """Every private name of another xsell module that ``module`` imports or reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    aliases: dict[str, str] = {}  # local name -> imported xsell module
    known = _modules()
    package = module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, path, node)
            # A package's private module (``from xsell.mining import _eclat``, a compiled
            # kernel) is its own modules' to use; other packages' never.
            own = source == package
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if full in known:  # ``from xsell.models import fallback``: a module
                    aliases[alias.asname or alias.name] = full
                    if _private(alias.name) and source != module and not own:
                        found.append(f"{module}: from {source} import {alias.name}")
                elif (
                    source.startswith("xsell")
                    and source != module
                    and not own
                    and _private(alias.name)
                ):
                    found.append(f"{module}: from {source} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("xsell"):
                    aliases[alias.asname or alias.name] = alias.name
                    if any(_private(part) for part in alias.name.split(".")[2:]):
                        found.append(f"{module}: import {alias.name}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != module
            and _private(node.attr)
        ):
            found.append(f"{module}: {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_module_reads_another_modules_private_names() -> None:
    modules = _modules()
    assert len(modules) > 40 and "xsell.models.base" in modules
    found = [use for module, path in modules.items() for use in private_uses(module, path)]
    assert found == []


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    package = tmp_path / "xsell" / "models"
    package.mkdir(parents=True)
    sample = package / "sample.py"
    sample.write_text(
        "from xsell.models.base import _check\n"
        "from . import fallback as F\n"
        "from .items import _grow, ItemTable\n"
        "import xsell.models.ranking as R\n"
        "from xsell.models import _kernel\n"
        "from xsell.mining import _eclat\n"
        "def f():\n"
        "    return F._words(), R._best, R.rank, ItemTable\n"
    )
    found = private_uses("xsell.models.sample", sample)
    assert sorted(found) == [
        "xsell.models.sample: from xsell.mining import _eclat",
        "xsell.models.sample: from xsell.models.base import _check",
        "xsell.models.sample: from xsell.models.items import _grow",
        "xsell.models.sample: xsell.models.fallback._words",
        "xsell.models.sample: xsell.models.ranking._best",
    ]


def test_the_model_contract_stays_small() -> None:
    lines = (SRC / "models" / "base.py").read_text(encoding="utf-8").count("\n")
    assert lines < 300, f"src/xsell/models/base.py has {lines} lines"


def test_nothing_in_src_unpickles() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("load", "loads", "Unpickler")
                and isinstance(node.value, ast.Name)
                and node.value.id in ("pickle", "cPickle", "dill", "joblib", "cloudpickle")
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module in ("pickle", "dill", "joblib"):
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno}"
                    for alias in node.names
                    if alias.name in ("load", "loads", "Unpickler")
                ]
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                value = node.value
                if not (isinstance(value, ast.Constant) and value.value is False):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} allow_pickle")
    assert found == []
