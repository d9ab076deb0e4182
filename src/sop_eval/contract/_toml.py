"""Reading one TOML table with key-path error messages (every unknown key, bad type or bad value named)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sop_eval.errors import SopEvalError, examples

MISSING: Any = object()
_MISSING = MISSING


class Table:
    """A TOML table being read: each ``take_*`` removes a key; :meth:`done` rejects whatever is left."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        if not isinstance(data, dict):
            raise SopEvalError(f"{source}: {path} must be a table ({{ key = value, … }}), got {data!r}.")
        self.data = dict(data)
        self.path = path
        self.source = source
        self.allowed: list[str] = []

    def fail(self, key: str, value: Any, expected: str) -> SopEvalError:
        """An error naming ``path.key``, the offending value and what was expected."""
        where = f"{self.path}.{key}" if self.path else key
        shown = str(value) if isinstance(value, (Decimal, dt.date)) else repr(value)
        return SopEvalError(f"{self.source}: {where} = {shown}: {expected}")

    def _take(self, key: str, default: Any) -> Any:
        self.allowed.append(key)
        if key in self.data:
            return self.data.pop(key)
        if default is _MISSING:
            where = f"{self.path}.{key}" if self.path else key
            raise SopEvalError(f"{self.source}: {where} is missing; it is required here.")
        return default

    def text(
        self, key: str, default: Any = _MISSING, choices: tuple[str, ...] | None = None, hint: str = ""
    ) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, value, "expected non-empty text in quotes.")
        if choices and value not in choices:
            supported = f"not supported; expected one of the supported values {examples(choices, 20)}"
            raise self.fail(key, value, supported + (f"; {hint}." if hint else "."))
        return value

    def label(self, key: str) -> str:
        """A required name given as text or as a bare number (a version such as 1.1)."""
        value = self._take(key, _MISSING)
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, value, "expected a name such as \"1.0\".")
        return value

    def texts(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, value, "expected a list of names, e.g. [\"a\", \"b\"].")
        return tuple(value)

    def number(
        self, key: str, default: Any = _MISSING, *, low: Decimal | None = Decimal(0), high: Decimal | None = None,
        what: str = "a number",
    ) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise self.fail(key, value, f"expected {what}.")
        number = Decimal(value)
        if not number.is_finite():
            raise self.fail(key, value, f"expected {what} (finite).")
        if low is not None and number < low:
            raise self.fail(key, value, f"expected {what} >= {low}.")
        if high is not None and number > high:
            raise self.fail(key, value, f"expected {what} <= {high}.")
        return number

    def integer(self, key: str, default: Any = _MISSING, low: int = 0, high: int | None = None,
                what: str = "") -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(key, value, f"expected a whole number >= {low}.")
        if high is not None and value > high:
            raise self.fail(key, value, f"expected a whole number <= {high}{f' ({what})' if what else ''}.")
        return value

    def numbers(self, key: str, default: Any = _MISSING, what: str = "non-negative amounts, e.g. [100, 50]") -> Any:
        """A list of non-negative amounts, as decimals."""
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or any(
            isinstance(v, bool) or not isinstance(v, (int, Decimal)) or v < 0 for v in value
        ):
            raise self.fail(key, value, f"expected a list of {what}.")
        return tuple(Decimal(v) for v in value)

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, value, "expected true or false.")
        return value

    def switches(self, key: str, default: Any = _MISSING) -> Any:
        """True or false, or a table of name = true/false (one switch per name)."""
        value = self._take(key, default)
        if isinstance(value, dict):
            bad = {k: v for k, v in value.items() if not isinstance(v, bool)}
            if bad:
                name = next(iter(bad))
                raise self.fail(f"{key}.{name}", bad[name], "expected true or false.")
            return dict(value)
        if value is None and default is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(key, value, "expected true or false, or a table of name = true/false.")
        return value

    def date(self, key: str, default: Any = _MISSING) -> Any:
        value = self._take(key, default)
        if value is default and default is not _MISSING:
            return value
        return parse_date(value, lambda: self.fail(key, value, "expected a date, e.g. 2012-07-01."))

    def table(self, key: str, required: bool = False) -> Table | None:
        value = self._take(key, _MISSING if required else None)
        if value is None:
            return None
        return Table(value, f"{self.path}.{key}" if self.path else key, self.source)

    def tables(self, key: str, required: bool = False) -> list[Table]:
        value = self._take(key, _MISSING if required else [])
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, value, f"expected one or more [[{key}]] tables.")
        if required and not value:
            raise self.fail(key, value, f"expected at least one [[{key}]] table.")
        base = f"{self.path}.{key}" if self.path else key
        return [Table(v, f"{base}[{i}]", self.source) for i, v in enumerate(value)]

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._take(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, value, "expected a table of name = value pairs.")
        return dict(value)

    def done(self) -> None:
        """Reject keys that were not read (typos, keys of another section)."""
        if self.data:
            key = next(iter(self.data))
            raise self.fail(
                key, self.data[key], f"unknown key; allowed keys here are {examples(self.allowed, 30)}."
            )


def parse_date(value: Any, error: Callable[[], SopEvalError]) -> dt.date:
    """A ``datetime.date`` from a TOML date or 'YYYY-MM-DD' text; ``error()`` otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise error()
