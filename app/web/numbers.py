"""Whole numbers read from URLs: record ids in paths (`<id:…>`) and page numbers in query
strings. One rule for both: ASCII digits, no sign, no leading zero, within a bound. Anything
else is a 404 (a path no record can have) or a 400 (a bad page), never a 500: `str.isdigit`
accepts "²", which int() refuses, and an id past PostgreSQL's integer cannot be looked up.
"""

from __future__ import annotations

import re

from flask import abort
from werkzeug.routing import BaseConverter, ValidationError

from app.models import MAX_ID

MAX_PAGE = 10_000
_CANONICAL = re.compile(r"[1-9][0-9]*")


def up_to(limit: int) -> str:
    """A regular expression matching exactly the canonical numbers 1…limit (limit ≥ 1)."""
    digits = str(limit)
    shorter = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same_length = [
        f"{digits[:i]}[{low}-{int(digit) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, digit in enumerate(digits)
        for low in [1 if i == 0 else 0]
        if int(digit) > low
    ]
    return "(?:" + "|".join([*shorter, *same_length, digits]) + ")"


class IdConverter(BaseConverter):
    """`<id:name>`: a record id from 1 to MAX_ID written canonically, else the route does not
    match (404). Unlike `<int:…>`, it refuses "01", ids too large for the database, and
    non-ASCII digits such as the Arabic-Indic one (which `<int:…>` matches, reading it as 1)."""

    # The bound is in the pattern, not only in to_python: werkzeug checks the method before
    # converting, so an id past MAX_ID would otherwise be a 405 on another method, not a 404.
    regex = up_to(MAX_ID)
    weight = 50  # as werkzeug's int converter: preferred over a string in the same place

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:  # unreachable through the pattern; kept as the contract
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


def page_number(raw: str | None, max_page: int = MAX_PAGE) -> int:
    """The `page` query argument (1 when absent); a 400 page for anything but 1…max_page."""
    value = "1" if raw is None else raw.strip()
    if not _CANONICAL.fullmatch(value) or len(value) > len(str(max_page)) or int(value) > max_page:
        abort(400, f"The page number must be a whole number from 1 to {max_page:,}.")
    return int(value)
