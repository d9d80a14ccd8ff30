"""Hyper-parameters declared once, with what each accepts, and checked the same way everywhere.

A model declares a hyper-parameter as a dataclass field made by :func:`param`,
which stores its default and a :class:`Check`. :func:`check_params` runs every
check of a model and raises one :class:`~xsell.errors.ValidationError` worded
``"<model>: <parameter> must be <what it accepts>, got <value>"``, so errors read
alike for every model and tests can assert them.

>>> from dataclasses import dataclass
>>> @dataclass
... class Toy:
...     name = "toy"
...     measure: str = param("lift", one_of("lift", "jaccard"))
>>> check_params(Toy(measure="cosine"))
Traceback (most recent call last):
...
xsell.errors.ValidationError: toy: measure must be one of ['lift', 'jaccard'], got 'cosine'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from xsell.errors import ValidationError


@dataclass(frozen=True)
class Check:
    """What values a hyper-parameter accepts, as a test and in words."""

    accepts: Callable[[Any], bool]
    wording: str
    #: Lists are turned into tuples (values read back from JSON).
    sequence: bool = False


def param(default: Any, check: Check) -> Any:
    """A hyper-parameter field: its default and its :class:`Check`."""
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple (or None) as the default of a sequence parameter")
    return field(default=default, metadata={"check": check})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _range_words(
    low: float | None, high: float | None, low_open: bool, high_open: bool = False
) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def integer(low: int | None = None, high: int | None = None, none: bool = False) -> Check:
    """A whole number in ``[low, high]`` (``None`` allowed when ``none``)."""

    def accepts(value: Any) -> bool:
        if value is None:
            return none
        return _is_int(value) and (low is None or value >= low) and (high is None or value <= high)

    words = f"a whole number{_range_words(low, high, False)}" + (" or None" if none else "")
    return Check(accepts, words)


def number(
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    none: bool = False,
) -> Check:
    """A finite number in ``[low, high]`` (ends left out when ``low_open`` / ``high_open``)."""

    def accepts(value: Any) -> bool:
        if value is None:
            return none
        if not _is_number(value):
            return False
        above = low is None or (value > low if low_open else value >= low)
        below = high is None or (value < high if high_open else value <= high)
        return above and below

    words = f"a number{_range_words(low, high, low_open, high_open)}" + (" or None" if none else "")
    return Check(accepts, words)


def flag() -> Check:
    """``True`` or ``False``."""
    return Check(lambda value: isinstance(value, bool), "True or False")


def one_of(*choices: Any, none: bool = False) -> Check:
    """One of ``choices`` (``None`` allowed when ``none``)."""
    allowed = list(choices)

    def accepts(value: Any) -> bool:
        if value is None:
            return none
        return any(value == c and type(value) is type(c) for c in allowed)

    return Check(accepts, f"one of {allowed}" + (" or None" if none else ""))


def text(none: bool = False) -> Check:
    """A non-empty string (``None`` allowed when ``none``)."""

    def accepts(value: Any) -> bool:
        return (value is None and none) or (isinstance(value, str) and value != "")

    return Check(accepts, "a non-empty string" + (" or None" if none else ""))


def sequence_of(item: Check, min_len: int = 0, length: int | None = None) -> Check:
    """A tuple (or list) whose every element passes ``item``."""

    def accepts(value: Any) -> bool:
        if not isinstance(value, tuple | list):
            return False
        if length is not None and len(value) != length:
            return False
        return len(value) >= min_len and all(item.accepts(v) for v in value)

    size = f"{length} " if length is not None else ""
    return Check(accepts, f"a list of {size}values each {item.wording}", sequence=True)


def anything(wording: str) -> Check:
    """No constraint here; the model checks the value itself (in ``_check_params``)."""
    return Check(lambda value: True, wording)


def check_params(model: Any) -> None:
    """Run the :class:`Check` of every hyper-parameter of ``model`` (lists become tuples)."""
    for f in fields(model):
        check: Check | None = f.metadata.get("check")
        if check is None:
            continue
        value = getattr(model, f.name)
        if check.sequence and isinstance(value, list):
            value = tuple(value)
            setattr(model, f.name, value)
        if not check.accepts(value):
            raise ValidationError(f"{model.name}: {f.name} must be {check.wording}, got {value!r}")


def hyper_parameters(cls: type) -> list[str]:
    """Names of the hyper-parameters (fields made by :func:`param`) of a model class."""
    return [f.name for f in fields(cls) if "check" in f.metadata]
