"""The memory budget of mining: parse it, turn it into an output cap, name a threshold that fits.

The miner's own working memory is small (tid-lists of the open search classes);
what explodes on dense data or tiny thresholds is the *output*: millions of
itemsets, then rules, each a row of Python tuples in a DataFrame. So the budget is
spent on the output, estimated per row, and checked while mining (the kernels stop
at a cap), never after the machine starts swapping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from xsell.errors import MemoryBudgetError, ValidationError

__all__ = ["BudgetStop", "Hint", "MemoryBudget", "budget_error", "parse_budget", "support_text"]

#: Default budget for the output of one mining call.
DEFAULT_BUDGET: Final = 1 << 30
#: Bytes one itemset costs on its way out: the kernel's three numbers, the level
#: matrices and their sorted copies, then the table row (Arrow lists of ids and
#: indices, count, support, length: 70-90 bytes for three items). Measured as the
#: peak resident memory of ``frequent_itemsets`` on Online Retail at 0.001 with
#: ``max_len=3``: 980 MB above the loaded data for 7,187,929 itemsets.
BYTES_PER_ITEMSET: Final = 144
#: Budget bytes per itemset a top-k search may look at: a look costs a fraction of
#: a microsecond and keeps nothing, so the default budget stops a search in seconds.
BYTES_PER_SEARCHED_ITEMSET: Final = 100
#: Bytes one rule row costs (two or four tuple columns, sixteen numbers).
BYTES_PER_RULE: Final = 700

_UNITS: Final = {"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}
_SIZE: Final = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMGT]?B?)\s*$", re.IGNORECASE)
#: Thresholds tried when naming a min_support that fits: the 1-2-5 series.
_LADDER: Final = tuple(
    m * 10.0**e for e in range(-6, 1) for m in (1.0, 2.0, 5.0) if m * 10.0**e <= 1
)


@dataclass(frozen=True)
class Hint:
    """What to change so that mining fits: ``name=value`` fits, or raise / lower ``name``."""

    name: str
    value: str | None = None
    verb: str = "raise"
    note: str = ""  # what the value means, e.g. "(19 baskets)"

    def render(self, spell: Callable[[str, str | None], str]) -> str:
        if self.value is not None:
            note = f" {self.note}" if self.note else ""
            return f"{spell(self.name, self.value)}{note} fits"
        return f"{self.verb} {spell(self.name, None)}"


def _python(name: str, value: str | None) -> str:
    return name if value is None else f"{name}={value}"


class BudgetStop(MemoryBudgetError):
    """Mining stopped at the memory budget; ``hints`` say which parameter to change.

    ``str()`` names Python parameters (``min_support=0.002 fits``);
    :meth:`advice` spells them as a command line does (``--min-support 0.002 fits``).
    """

    def __init__(self, what: str, hints: tuple[Hint, ...]) -> None:
        self.what = what
        self.hints = hints
        super().__init__(self.advice(_python))

    def advice(self, spell: Callable[[str, str | None], str]) -> str:
        """The message with each hint spelled by ``spell(name, value)``."""
        if not self.hints:
            return self.what
        return f"{self.what}; " + ", or ".join(h.render(spell) for h in self.hints)

    def for_options(self, options: Mapping[str, str]) -> str:
        """The message for a command whose options are ``{parameter: "--flag"}``.

        A parameter the command has no option for keeps its Python name.
        """

        def spell(name: str, value: str | None) -> str:
            flag = options.get(name)
            if flag is None:
                return _python(name, value)
            return flag if value is None else f"{flag} {value}"

        return self.advice(spell)


@dataclass(frozen=True)
class MemoryBudget:
    """A byte budget for mining output."""

    bytes: int

    @property
    def max_itemsets(self) -> int:
        return max(1, self.bytes // BYTES_PER_ITEMSET)

    @property
    def max_searched(self) -> int:
        return max(1, self.bytes // BYTES_PER_SEARCHED_ITEMSET)

    @property
    def max_rules(self) -> int:
        return max(1, self.bytes // BYTES_PER_RULE)

    def __str__(self) -> str:
        return format_bytes(self.bytes)


def parse_budget(value: int | float | str | MemoryBudget | None) -> MemoryBudget:
    """A budget from bytes (int), a size string (``"512MB"``, ``"2 GB"``) or ``None`` (default)."""
    if value is None:
        return MemoryBudget(DEFAULT_BUDGET)
    if isinstance(value, MemoryBudget):
        return value
    if isinstance(value, bool):
        raise ValidationError(f"memory_budget must be bytes or a size like '1GB', got {value!r}")
    if isinstance(value, int | float):
        if value <= 0 or math.isnan(value):
            raise ValidationError(f"memory_budget must be positive, got {value!r}")
        return MemoryBudget(int(value))
    match = _SIZE.match(str(value))
    if not match:
        raise ValidationError(
            f"memory_budget {value!r} is not a size; write bytes or e.g. '512MB', '2GB'"
        )
    unit = match.group(2).upper()
    unit = unit if unit.endswith("B") or not unit else unit + "B"
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ValidationError(f"memory_budget must be positive, got {value!r}")
    return MemoryBudget(size)


def format_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def fitting_min_count(
    fits: Callable[[int], bool], requested: int, n_baskets: int, refine: int = 2
) -> int | None:
    """A small basket count above ``requested`` for which ``fits`` holds (``None``: none does).

    Walks down the 1-2-5 support ladder from 1.0: runs that fit are cheap near the
    top and grow geometrically, and the walk stops at the first run that
    overflows. Counts within a quarter of ``requested`` are not tried: that run
    just overflowed, and a probe near it would cost as much to overflow again.
    Then ``refine`` geometric bisection steps narrow the bracket, and the answer
    is rounded *up* to two significant digits of support (so it still fits).
    Every probe is a capped run, so the search costs a few capped runs.
    """
    best: int | None = None
    near = math.ceil(requested * 1.25)
    failed = requested
    tried: set[int] = set()
    for support in sorted(_LADDER, reverse=True):
        count = max(near, math.ceil(support * n_baskets))
        if count in tried or count > n_baskets:
            continue
        tried.add(count)
        if not fits(count):
            failed = count
            break
        best = count
    if best is None:
        return None
    for _ in range(refine):
        middle = math.ceil(math.sqrt(best * max(failed, near - 1)))
        if middle >= best or middle <= failed or middle < near:
            break
        if fits(middle):
            best = middle
        else:
            failed = middle
    support = best / n_baskets
    digits = 1 - math.floor(math.log10(support))
    rounded = math.ceil(math.ceil(support * 10**digits) / 10**digits * n_baskets)
    return min(max(rounded, best), n_baskets)


def budget_error(
    what: str,
    found: int,
    budget: MemoryBudget,
    requested_count: int,
    n_baskets: int,
    suggestion: int | None,
) -> BudgetStop:
    """The error raised when the output would not fit; it names a min_support that does."""
    message = (
        f"mining stopped: more than {found:,} {what} at min_support="
        f"{requested_count / n_baskets:.6g} ({requested_count:,} of {n_baskets:,} baskets) "
        f"would exceed the memory budget of {budget}"
    )
    if suggestion is not None:
        return BudgetStop(
            message,
            (
                Hint(
                    "min_support",
                    support_text(suggestion, n_baskets),
                    note=f"({suggestion:,} baskets)",
                ),
                Hint("memory_budget"),
            ),
        )
    return BudgetStop(
        message + "; no min_support fits", (Hint("max_len", verb="lower"), Hint("memory_budget"))
    )


def support_text(count: int, n_baskets: int) -> str:
    """A fraction of baskets that means at least ``count`` baskets, as short as it can be."""
    for digits in range(3, 17):
        text = f"{count / n_baskets:.{digits}g}"
        if math.ceil(float(text) * n_baskets - 1e-9) >= count and float(text) <= 1:
            candidate = float(text)
            # The same rounding min_count_of applies: count / n >= support.
            needed = max(1, math.ceil(candidate * n_baskets))
            while needed > 1 and (needed - 1) / n_baskets >= candidate:
                needed -= 1
            while needed / n_baskets < candidate:
                needed += 1
            if needed == count:
                return text
    return repr(count / n_baskets)
