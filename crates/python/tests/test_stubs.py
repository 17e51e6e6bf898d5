"""The type stubs shipped in the wheel describe exactly what the extension module has."""

import ast
import inspect
from pathlib import Path

import tradeloop
from tradeloop import _tradeloop


def stub() -> ast.Module:
    path = Path(tradeloop.__file__).with_name("_tradeloop.pyi")
    assert path.exists(), "the wheel ships _tradeloop.pyi"
    assert Path(tradeloop.__file__).with_name("py.typed").exists(), "and py.typed"
    return ast.parse(path.read_text())


def public(names):
    return {n for n in names if not n.startswith("_")}


def test_module_functions_and_classes_match_the_stub():
    tree = stub()
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    module = public(dir(_tradeloop))
    assert functions | set(classes) == module
    for name, node in classes.items():
        declared = {m.name for m in node.body if isinstance(m, ast.FunctionDef)} - {"__init__"}
        actual = public(dir(getattr(_tradeloop, name)))
        assert declared == actual, f"{name}: stub {sorted(declared ^ actual)} differ"


def test_every_method_has_a_docstring():
    for cls in (tradeloop.Engine, tradeloop.PaperTrader):
        assert inspect.getdoc(cls), cls.__name__
        for name in public(dir(cls)):
            assert inspect.getdoc(getattr(cls, name)), f"{cls.__name__}.{name}"
    for fn in (tradeloop.parse_csv, tradeloop.version, tradeloop.default_config, tradeloop.error_kinds):
        assert inspect.getdoc(fn), fn.__name__
