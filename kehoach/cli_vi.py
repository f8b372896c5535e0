"""Click in Vietnamese: the help pages' headings and usage line, the help option, and every
error Click itself raises (unknown command or option, bad or missing value, file errors,
Ctrl-C), through Click's public extension points: a Group and Command class pair (the
`cls`/`command_class` hooks), a Context with its own HelpFormatter, and the attributes Click's
exceptions carry (`NoSuchOption.possibilities`, `BadParameter.param`, …).

    @click.group(cls=Group)            # every command and group below it follows
    def main() -> None: ...

Click writes its error messages in English before we see them; the few it builds from values
(«'x' is not one of 'table', 'json'») are read back by `PATTERNS`, one line per message of
Click's that a user of this CLI can meet.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import click

from engine.vi import os_reason

SECTIONS = {"Options": "Tùy chọn", "Commands": "Lệnh", "Positional arguments": "Đối số"}
#: Click's metavars of its own types and of our arguments, as they read in the usage line.
METAVARS = {
    "TEXT": "CHỮ",
    "INTEGER": "SỐ",
    "FLOAT": "SỐ",
    "INTEGER RANGE": "SỐ",
    "FLOAT RANGE": "SỐ",
    "PATH": "ĐƯỜNG-DẪN",
    "FILENAME": "TỆP",
    "FILE": "TỆP",
    "DIRECTORY": "THƯ-MỤC",
    "BOOLEAN": "ĐÚNG/SAI",
    "PLANS": "KẾ-HOẠCH",
    "STEP": "BƯỚC",
    "AMOUNT": "SỐ-TIỀN",
    "QUANTITY": "SỐ-LƯỢNG",
    "FEED_ID": "SỐ-LỊCH",
    "LOGIN": "TÊN-ĐĂNG-NHẬP",
    "NAME": "TÊN",
}
_METAVAR = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, METAVARS), key=len, reverse=True)) + r")\b"
)
HELP = "Hiện hướng dẫn này rồi thoát."
USAGE = "Cách dùng:"
#: Click's messages that carry values, read back into Vietnamese. «{x}» is a value Click wrote
#: with repr() quotes or bare; each pattern is tried in order, the first match wins.
PATTERNS: list[tuple[str, str]] = [
    (r"(?P<v>.+) is not one of (?P<c>.+)\.", "«{v}» không phải một trong: {c}"),
    (r"(?P<v>.+) is not (?P<c>'.+')\.", "«{v}» không phải {c}"),
    (r"(?P<v>.+) is not a valid integer\.", "«{v}» không phải một số nguyên"),
    (r"(?P<v>.+) is not a valid float\.", "«{v}» không phải một số"),
    (r"(?P<v>.+) is not a valid boolean\.?", "«{v}» không phải đúng/sai (true/false)"),
    (r"(?P<v>.+) is not a valid UUID\.", "«{v}» không phải một UUID"),
    (r"(?P<v>.+) is not in the range (?P<c>.+)\.", "{v} nằm ngoài khoảng {c}"),
    (r"(?:File|Directory|Path) (?P<v>.+) does not exist\.", "«{v}» không tồn tại"),
    (r"(?:File|Directory|Path) (?P<v>.+) is a directory\.", "«{v}» là một thư mục"),
    (r"(?:File|Directory|Path) (?P<v>.+) is a file\.", "«{v}» là một tệp, không phải thư mục"),
    (r"(?:File|Directory|Path) (?P<v>.+) is not readable\.", "không đọc được «{v}»"),
    (r"(?:File|Directory|Path) (?P<v>.+) is not writable\.", "không ghi được vào «{v}»"),
    (r"(?:File|Directory|Path) (?P<v>.+) is not executable\.", "«{v}» không chạy được"),
    (r"Option (?P<v>.+) requires an argument\.", "tùy chọn {v} cần một giá trị"),
    (r"Option (?P<v>.+) requires (?P<c>\d+) arguments\.", "tùy chọn {v} cần {c} giá trị"),
    (r"Option (?P<v>.+) does not take a value\.", "tùy chọn {v} không nhận giá trị"),
    (r"Argument (?P<v>.+) takes (?P<c>\d+) values\.", "đối số {v} cần {c} giá trị"),
    (r"Got unexpected extra arguments? \((?P<v>.+)\)", "thừa đối số: {v}"),
    (r"Missing command\.", "thiếu lệnh"),
    (r"Value must be an iterable\.", "giá trị phải là một danh sách"),
]
_PATTERNS = [(re.compile(p), vi) for p, vi in PATTERNS]


def _unquote(text: str) -> str:
    return (
        re.sub(r"'([^']*)'", r"«\1»", text).strip("«»")
        if text.count("'") == 2
        else re.sub(r"'([^']*)'", r"\1", text)
    )


def translate(message: str) -> str:
    """One of Click's messages in Vietnamese (ours, already Vietnamese, pass unchanged).

    >>> translate("'x' is not one of 'table', 'json', 'csv'.")
    '«x» không phải một trong: table, json, csv'
    """
    for pattern, vi in _PATTERNS:
        found = pattern.fullmatch(message.strip())
        if found:
            return vi.format(**{k: _unquote(v) for k, v in found.groupdict().items()})
    return message


def _hint(exc: click.BadParameter, ctx: click.Context | None) -> str | None:
    if exc.param_hint is not None:
        hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint)
        return " / ".join(hints)
    if exc.param is not None and ctx is not None:
        return _METAVAR.sub(
            lambda m: METAVARS[m[1]], exc.param.get_error_hint(ctx).replace("'", "")
        )
    return None


def _suggest(possibilities: Sequence[str] | None) -> str:
    return (
        f" Có phải là {' hay '.join(f'«{p}»' for p in sorted(possibilities))}?"
        if possibilities
        else ""
    )


def message_of(exc: click.ClickException) -> str:
    """The message of any of Click's errors, in Vietnamese."""
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.NoSuchCommand):
        return f"không có lệnh «{exc.command_name}».{_suggest(exc.possibilities)}"
    if isinstance(exc, click.NoSuchOption):
        return f"không có tùy chọn «{exc.option_name}».{_suggest(exc.possibilities)}"
    if isinstance(exc, click.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "")
        what = {"argument": "đối số", "option": "tùy chọn"}.get(kind, "giá trị")
        hint = _hint(exc, ctx)
        return f"thiếu {what}{f' {hint}' if hint else ''}."
    if isinstance(exc, click.BadParameter):
        hint = _hint(exc, ctx)
        return f"giá trị không hợp lệ{f' cho {hint}' if hint else ''}: {translate(exc.message)}"
    if isinstance(exc, click.FileError):
        return f"không mở được tệp «{exc.ui_filename}»: {os_reason(exc.message)}"
    return translate(exc.message)


class Failure(click.UsageError):
    """A Click error already in Vietnamese; shown with the usage line when it is about usage."""

    def __init__(
        self, message: str, ctx: click.Context | None, usage: bool, exit_code: int
    ) -> None:
        super().__init__(message, ctx)
        # Click types exit_code as a ClassVar; an instance's own code is the one Click reads
        self.with_usage, self.exit_code = usage, exit_code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        file = file or sys.stderr
        if self.with_usage and self.ctx is not None:
            click.echo(self.ctx.get_usage(), file=file)
            names = self.ctx.command.get_help_option_names(self.ctx)
            if names:
                click.echo(f"Xem «{self.ctx.command_path} {names[-1]}» để biết thêm.", file=file)
            click.echo(file=file)
        click.echo(f"lỗi {self.message}", file=file)


class Formatter(click.HelpFormatter):
    """Headings, the usage prefix, Click's «[default: …]» and type names in Vietnamese."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(
            prog,
            _METAVAR.sub(lambda m: METAVARS[m[1]], args),
            f"{USAGE} " if prefix is None else prefix,
        )

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        with super().section(SECTIONS.get(name, name)):
            yield

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = [
            (
                _METAVAR.sub(lambda m: METAVARS[m[1]], term),
                text.replace("[default: ", "[mặc định: ")
                .replace("; default: ", "; mặc định: ")
                .replace("[required]", "[bắt buộc]")
                .replace("; required]", "; bắt buộc]"),
            )
            for term, text in rows
        ]
        super().write_dl(rows, col_max, col_spacing)


class Context(click.Context):
    formatter_class = Formatter


class Command(click.Command):
    """A command whose help and errors are in Vietnamese."""

    context_class = Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", "[TÙY-CHỌN]")
        super().__init__(*args, **kwargs)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP
        return option


class Group(Command, click.Group):
    """The root group: its commands and sub-groups are Vietnamese too, and every error Click
    raises while parsing or running them is shown in Vietnamese."""

    command_class = Command
    group_class = type  # sub-groups: this class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", "LỆNH [ĐỐI-SỐ]...")
        super().__init__(*args, **kwargs)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _in_vietnamese():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _in_vietnamese():
            return super().invoke(ctx)


#: Passed through as they are: ours, and a group called bare showing its help (Click ≥ 8.2).
_AS_THEY_ARE = (
    Failure,
    *[getattr(click.exceptions, n) for n in ("NoArgsIsHelpError",) if hasattr(click.exceptions, n)],
)


@contextmanager
def _in_vietnamese() -> Iterator[None]:
    try:
        yield
    except _AS_THEY_ARE:
        raise
    except click.UsageError as exc:
        raise Failure(message_of(exc), exc.ctx, True, exc.exit_code) from None
    except click.ClickException as exc:
        raise Failure(message_of(exc), None, False, exc.exit_code) from None
    except (click.Abort, EOFError):
        raise Failure("đã hủy.", None, False, 1) from None
    except KeyboardInterrupt:
        raise Failure("đã dừng (Ctrl-C).", None, False, 130) from None
