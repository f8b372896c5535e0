"""Read plan files: YAML → schema → resolved Plan, with every error named by its place."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from .errors import PlanError, PlanErrors, Position
from .model import PlanFile
from .plan import Plan, resolve
from .vi import os_reason
from .yamlsource import Path, load_yaml

#: Vietnamese wording of the schema's error types; others fall back to pydantic's English.
MESSAGES = {
    "missing": "thiếu trường bắt buộc «{field}»",
    "string_type": "«{field}» phải là văn bản",
    "string_too_short": "«{field}» không được để trống",
    "string_pattern_mismatch": "mã «{input}» chỉ được gồm chữ thường không dấu, số, «-», «_», «.»",
    "list_type": "«{field}» phải là một danh sách",
    "dict_type": "«{field}» phải là một bảng khóa: giá trị",
    "model_type": "«{field}» phải là một bảng khóa: giá trị",
    "too_short": "«{field}» cần ít nhất một mục",
    "float_parsing": "«{field}» phải là một số",
    "float_type": "«{field}» phải là một số",
    "int_parsing": "«{field}» phải là một số",
    "bool_parsing": "«{field}» phải là true hoặc false",
    "bool_type": "«{field}» phải là true hoặc false",
    "enum": "«{field}» không hợp lệ; chọn một trong: {expected}",
    "literal_error": "«{field}» không hợp lệ; chọn một trong: {expected}",
    "greater_than_equal": "«{field}» phải ≥ {ge}",
    "less_than_equal": "«{field}» phải ≤ {le}",
}


def load_plan(file: str | FsPath) -> Plan:
    """Load and check one plan file; raise PlanErrors listing every problem."""
    name = str(file)
    try:
        raw = FsPath(file).read_bytes()
    except OSError as exc:
        raise PlanErrors(
            [PlanError(f"không đọc được tệp ({os_reason(exc)})", Position(name))]
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlanErrors([not_utf8(raw, exc, name)]) from None
    return parse_plan(text, name)


def not_utf8(raw: bytes, exc: UnicodeDecodeError, file: str) -> PlanError:
    """Where a file stops being UTF-8, by line and column (what an editor shows), not by byte.

    >>> bad = UnicodeDecodeError("utf-8", b"", 16, 17, "")
    >>> print(not_utf8(b"id: x\\ntitle: caf\\xe9", bad, "p.yaml"))
    p.yaml:2:11: tệp không phải UTF-8: byte 0xE9 không đọc được; hãy lưu tệp với bảng mã UTF-8
    """
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    column = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    return PlanError(
        f"tệp không phải UTF-8: byte 0x{raw[exc.start]:02X} không đọc được; hãy lưu "
        "tệp với bảng mã UTF-8",
        Position(file, raw.count(b"\n", 0, exc.start) + 1, column),
    )


def parse_plan(text: str, file: str = "<plan>") -> Plan:
    try:
        data, where = load_yaml(text, file)
    except PlanError as exc:
        raise PlanErrors([exc]) from None
    if not isinstance(data, dict):
        raise PlanErrors(
            [
                PlanError(
                    "tệp kế hoạch phải là một bảng khóa: giá trị (id, title, units, …)",
                    Position(file, 1, 1),
                )
            ]
        )
    try:
        doc = PlanFile.model_validate(data)
    except ValidationError as exc:
        errors = _schema_errors(exc, where, file)
        errors += _check_rest(data, where, file, exc)
        errors.sort(key=lambda e: (e.position.line, e.position.column) if e.position else (0, 0))
        raise PlanErrors(errors) from None
    return resolve(doc, where, file)


SECTIONS = ("units", "clusters", "groups", "obligations")


def _check_rest(
    data: dict[str, Any], where: dict[Path, Position], file: str, exc: ValidationError
) -> list[PlanError]:
    """So that `check` reports everything at once: drop the unknown keys, then the list items
    and optional fields the schema still rejects, and check the meaning of what is left."""
    pruned = copy.deepcopy(data)
    for err in exc.errors(include_url=False):
        if err["type"] == "extra_forbidden":
            *parent, key = _yaml_path(err["loc"], keep_last=True)
            holder: Any = pruned
            for part in parent:
                holder = holder[part]
            holder.pop(key, None)
    try:
        doc = PlanFile.model_validate(pruned)
    except ValidationError as again:
        pruned, where = _drop_invalid(pruned, where, file, again)
        if pruned is None:
            return []
        try:
            doc = PlanFile.model_validate(pruned)
        except ValidationError:
            return []
    try:
        resolve(doc, where, file)
    except PlanErrors as found:
        return found.errors
    return []


def _drop_invalid(
    data: dict[str, Any], where: dict[Path, Position], file: str, exc: ValidationError
) -> tuple[Any, dict[Path, Position]]:
    bad_items: dict[str, set[int]] = {}
    bad_fields: set[str] = set()
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if len(loc) > 1 and loc[0] in SECTIONS and isinstance(loc[1], int):
            bad_items.setdefault(str(loc[0]), set()).add(loc[1])
        elif loc:
            bad_fields.add(str(loc[0]))
    if bad_fields & {"id", "title", "issuer", "period"}:
        return None, where  # too little is left to check the meaning
    pruned = {k: v for k, v in data.items() if k not in bad_fields}
    moved: dict[Path, Position] = {k: v for k, v in where.items() if not k or k[0] not in bad_items}
    for section, bad in bad_items.items():
        items = data.get(section)
        if not isinstance(items, list):
            continue
        kept = [i for i in range(len(items)) if i not in bad]
        pruned[section] = [items[i] for i in kept]
        for new, old in enumerate(kept):
            for path, pos in where.items():
                if path[:2] == (section, old):
                    moved[(section, new, *path[2:])] = pos
        moved[(section,)] = where.get((section,), Position(file))
    return pruned, moved


def _schema_errors(exc: ValidationError, where: dict[Path, Position], file: str) -> list[PlanError]:
    out: list[PlanError] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        path = _yaml_path(err["loc"], keep_last=err["type"] == "extra_forbidden")
        if err["type"] in ("string_type", "model_type", "dict_type") and _union_sibling(err["loc"]):
            continue  # `when:` is text or a mapping; report the mapping branch only once
        key = (path, err["type"])
        if key in seen:
            continue
        seen.add(key)
        field = ".".join(str(p) for p in path) or "tệp"
        template = MESSAGES.get(err["type"])
        ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
        if err["type"] == "extra_forbidden":
            message = f"khóa không hợp lệ «{path[-1]}»" + _suggest(str(path[-1]), err["loc"])
        elif err["type"] == "value_error":
            message = str(ctx.get("error", err["msg"]))
        elif template:
            if "expected" in ctx:
                ctx["expected"] = ctx["expected"].replace(" or ", " hoặc ")
            message = template.format(field=field, input=err.get("input"), **ctx)
        else:
            message = f"«{field}»: {err['msg']}"
        pos = _position(path, where, file)
        value = err.get("input")
        quiet = err["type"] in ("missing", "extra_forbidden")
        text = value if isinstance(value, str | int | float) and not quiet else None
        out.append(PlanError(message, pos, None if text is None else str(text)))
    return out


def _yaml_path(loc: tuple[Any, ...], keep_last: bool = False) -> Path:
    # pydantic adds the branch of a union to the location ("str", "WhenSpec", "list[str]")
    kept = tuple(
        p for p in loc[:-1] if isinstance(p, int) or p in _FIELD_NAMES or _is_data_key(loc, p)
    )
    last = loc[-1] if loc else None
    if last is not None and (
        keep_last or isinstance(last, int) or last in _FIELD_NAMES or _is_data_key(loc, last)
    ):
        kept += (last,)
    return kept


def _is_data_key(loc: tuple[Any, ...], part: Any) -> bool:
    i = loc.index(part)
    return i > 0 and loc[i - 1] in ("amounts", "reminders", "period")


def _union_sibling(loc: tuple[Any, ...]) -> bool:
    return any(
        isinstance(p, str) and p not in _FIELD_NAMES and not _is_data_key(loc, p) for p in loc
    )


def _position(path: Path, where: dict[Path, Position], file: str) -> Position:
    while path and path not in where:
        path = path[:-1]
    return where.get(path, Position(file))


def _models() -> list[type[BaseModel]]:
    from . import model

    return [
        v
        for v in vars(model).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v is not BaseModel
    ]


_FIELD_NAMES = {a.alias or n for m in _models() for n, a in m.model_fields.items()} | {
    n for m in _models() for n in m.model_fields
}


def _suggest(key: str, loc: tuple[Any, ...]) -> str:
    close = difflib.get_close_matches(key, sorted(_FIELD_NAMES), n=1)
    return f"; có phải «{close[0]}»?" if close else ""
