"""Read YAML keeping the line and column of every value, so errors can name the place.

PyYAML's composer gives a node tree with marks; we build plain Python values from it
and a map from each value's path (a tuple of keys and indexes) to its position.

>>> data, where = load_yaml("a:\\n  - x: 1\\n", "p.yaml")
>>> data, where[("a", 0, "x")]
({'a': [{'x': 1}]}, Position(file='p.yaml', line=2, column=8))
"""
from __future__ import annotations

import unicodedata
from typing import Any

import yaml

from .errors import PlanError, Position

Path = tuple[str | int, ...]

try:  # the C loader is an order of magnitude faster on large plans
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path, Position]]:
    """Parse `text`; raise PlanError (with the place) on a syntax error or a duplicate key."""
    text = unicodedata.normalize("NFC", text)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
        problem = exc.problem or exc.context or "không đọc được"
        raise PlanError(f"lỗi cú pháp YAML: {problem}", pos) from None
    except yaml.YAMLError as exc:  # e.g. a reader error on a control character
        raise PlanError(f"lỗi cú pháp YAML: {exc}", Position(file)) from None
    where: dict[Path, Position] = {}
    if node is None:
        return None, where
    return _build(node, (), file, where), where


def _build(node: yaml.Node, path: Path, file: str, where: dict[Path, Position]) -> Any:
    where[path] = Position(file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key == "<<":
                raise PlanError("khóa gộp YAML («<<») không được hỗ trợ",
                                Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            if key in out:
                raise PlanError(f"khóa «{key}» bị lặp lại",
                                Position(file, key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            out[key] = _build(value_node, (*path, key), file, where)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, (*path, i), file, where) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return str(node.start_mark)  # a mapping used as a key; reported by the schema
    # Dates and times stay text: the plan language parses them itself (19/5/2022, 08g00, …).
    if node.tag in ("tag:yaml.org,2002:timestamp",):
        return node.value
    constructor = yaml.SafeLoader.yaml_constructors.get(node.tag)
    if constructor is None or node.tag == "tag:yaml.org,2002:str" or ":" in node.value:
        return node.value  # "8:00" is a time to us, not YAML 1.1's base-60 number 480
    return constructor(yaml.SafeLoader(""), node)
