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


#: How many values aliases («*name») may add in all: an anchor used a few times is fine, a
#: "billion laughs" (aliases of aliases, each doubling the document) is refused before it grows.
MAX_ALIASED = 10_000


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path, Position]]:
    """Parse `text`; raise PlanError (with the place) on a syntax error, a character YAML does
    not allow, a duplicate key or aliases that would expand the document beyond MAX_ALIASED.

    >>> load_yaml("a: \x01", "p.yaml")
    Traceback (most recent call last):
    engine.errors.PlanError: p.yaml:1:4: ký tự điều khiển U+0001 không được có trong tệp kế hoạch
    """
    text = unicodedata.normalize("NFC", text)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:  # a control character: YAML refuses the stream
        raise PlanError(
            f"ký tự điều khiển U+{exc.character:04X} không được có trong tệp kế hoạch"
            if isinstance(exc.character, int)
            else "ký tự không hợp lệ trong tệp kế hoạch",
            position_of(text, _characters(text, exc), file),
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file)
        found = text[mark.index] if mark and 0 <= mark.index < len(text) else ""
        raise PlanError(
            f"lỗi cú pháp YAML: {yaml_problem(exc.problem or exc.context, found)}", pos
        ) from None
    except yaml.YAMLError as exc:  # any other error of the reader or the parser
        raise PlanError(f"lỗi cú pháp YAML: {yaml_problem(str(exc), '')}", Position(file)) from None
    where: dict[Path, Position] = {}
    if node is None:
        return None, where
    return _Builder(file, where).build(node, ()), where


def _characters(text: str, exc: yaml.reader.ReaderError) -> int:
    """The error's offset in characters: libyaml (the C loader) counts UTF-8 bytes."""
    if exc.encoding == "unicode":  # the pure-Python reader
        return int(exc.position)
    return len(text.encode()[: exc.position].decode(errors="ignore"))


def position_of(text: str, offset: int, file: str) -> Position:
    """The line and column (1-based, in characters) of character `offset` of `text`."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(file, text.count("\n", 0, offset) + 1, offset - line_start + 1)


class _Builder:
    """Plain values from the node tree; a node met again is an alias, and what aliases add is
    counted so that a few anchors cost nothing and a billion laughs stops early."""

    def __init__(self, file: str, where: dict[Path, Position]):
        self.file, self.where = file, where
        self.seen: set[int] = set()
        self.aliased = 0  # values built again through aliases
        self.depth = 0  # > 0 while building through an alias

    def build(self, node: yaml.Node, path: Path) -> Any:
        again = id(node) in self.seen
        self.seen.add(id(node))
        self.depth += again
        try:
            if self.depth:
                self.aliased += 1
                if self.aliased > MAX_ALIASED:
                    raise PlanError(
                        f"bí danh YAML («*…») mở rộng tệp quá {MAX_ALIASED:,} giá trị; hãy viết "
                        "các giá trị ra thay vì lồng bí danh",
                        _position(node, self.file),
                        text=".".join(str(p) for p in path) or None,
                    )
            return _build(node, path, self)
        finally:
            self.depth -= again


def _position(node: yaml.Node, file: str) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


#: PyYAML's problems (libyaml's wording and the pure-Python loader's), what they mean in a
#: plan file; the place (line:column) is given beside the message.
YAML_PROBLEMS = (
    (
        "expected '-' indicator",
        "một dòng của danh sách thiếu «- » ở đầu, hoặc thụt lề không "
        "thẳng cột với các mục khác của danh sách",
    ),
    ("expected key", "thụt lề sai: dòng này không thẳng cột với các khóa cùng cấp ở trên"),
    ("expected <block end>", "thụt lề sai: dòng này không thẳng cột với các khóa cùng cấp ở trên"),
    (
        "mapping values are not allowed",
        "dấu «:» không được đứng ở đây: thụt lề sai, hoặc một "
        "giá trị có «: » cần đặt trong dấu ngoặc kép",
    ),
    (
        "could not find expected ':'",
        "thiếu dấu «:» sau khóa, hoặc một giá trị có dấu ngoặc kép mở mà không đóng",
    ),
    ("expected ',' or ']'", "danh sách viết trong «[ ]» thiếu dấu «,» hoặc dấu «]» đóng"),
    ("expected ',' or '}'", "bảng viết trong «{ }» thiếu dấu «,» hoặc dấu «}» đóng"),
    ("unexpected end of stream", "tệp hết giữa chừng: một dấu ngoặc kép hay ngoặc đóng còn thiếu"),
    (
        "unknown escape character",
        "trong dấu ngoặc kép, «\\» phải đi với một ký tự thoát hợp lệ; "
        "dùng dấu ngoặc đơn ' ' nếu muốn giữ nguyên «\\»",
    ),
    ("undefined alias", "bí danh «*…» chưa được định nghĩa bằng «&…»"),
    ("undefined tag handle", "thẻ «!…» không được hỗ trợ"),
    ("expected the node content", "thiếu giá trị ở đây"),
    ("expected node content", "thiếu giá trị ở đây"),
    ("sequence entries are not allowed", "mục danh sách «- » không được đứng ở đây: thụt lề sai?"),
    ("another document", "tệp chỉ được có một tài liệu YAML: bỏ dòng «---» thứ hai"),
    ("control characters are not allowed", "tệp có ký tự điều khiển (không in được)"),
    ("special characters are not allowed", "tệp có ký tự điều khiển (không in được)"),
    ("duplicate", "khóa bị lặp lại"),
)


def yaml_problem(problem: str | None, found: str) -> str:
    """PyYAML's problem in Vietnamese; `found` is the character at the place it names.

    >>> yaml_problem("found character that cannot start any token", chr(9))
    'ký tự tab: YAML chỉ cho thụt lề bằng dấu cách'
    """
    problem = problem or ""
    if "tab character" in problem or "cannot start any token" in problem:
        if found == "\t" or "tab character" in problem:
            return "ký tự tab: YAML chỉ cho thụt lề bằng dấu cách"
        return f"một giá trị không được bắt đầu bằng «{found}»: đặt cả giá trị trong dấu ngoặc kép"
    for english, vietnamese in YAML_PROBLEMS:
        if english in problem:
            return vietnamese
    return "không đọc được cấu trúc YAML ở đây (xem lại thụt lề và dấu ngoặc)"


def _build(node: yaml.Node, path: Path, builder: _Builder) -> Any:
    file, where = builder.file, builder.where
    where[path] = _position(node, file)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            if key == "<<":
                raise PlanError("khóa gộp YAML («<<») không được hỗ trợ", _position(key_node, file))
            if key in out:
                raise PlanError(f"khóa «{key}» bị lặp lại", _position(key_node, file))
            out[key] = builder.build(value_node, (*path, key))
        return out
    if isinstance(node, yaml.SequenceNode):
        return [builder.build(child, (*path, i)) for i, child in enumerate(node.value)]
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
