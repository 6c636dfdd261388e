"""An index of nested-or-disjoint integer ranges (CIDR blocks): which ranges cover a point.

CIDR blocks never partly overlap: two blocks are nested or disjoint. So the address line is cut
once into disjoint segments, each pointing at the innermost block that covers it, and each block
remembers its parent. A lookup is one `bisect` plus a walk up the (short) chain of parents,
memoised per block; building is one sort and one pass with a stack.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class NestedRanges(Generic[T]):
    """Values attached to ranges `[first, last]`; `covering(x)` gives those of every range that
    contains `x`, innermost range first (values of one range in the order given, each once)."""

    def __init__(self, ranges: Iterable[tuple[int, int, T]], *, bits: int = 128) -> None:
        grouped: dict[tuple[int, int], list[T]] = {}
        for first, last, value in ranges:
            grouped.setdefault((first, last), []).append(value)
        self._build(((first, last, values) for (first, last), values in grouped.items()), bits)

    @classmethod
    def from_groups(
        cls, groups: Iterable[tuple[int, int, list[T]]], *, bits: int = 128
    ) -> NestedRanges[T]:
        """From ranges already grouped: each `(first, last)` once, with its values in order.
        `bits` bounds the addresses (32 for IPv4), which keeps the sort keys small."""
        index = cls.__new__(cls)
        index._build(groups, bits)
        return index

    def _build(self, groups: Iterable[tuple[int, int, list[T]]], bits: int) -> None:
        # Widest first among equal starts, so a parent is on the stack before its children. One
        # integer per range orders them (start, then end descending): sorting plain integers is
        # several times faster than sorting pairs, and this runs on ~25,000 service-tag prefixes.
        span = 1 << bits
        blocks_in_order = sorted(
            (first * span + (span - 1 - last), first, last, values)
            for first, last, values in groups
        )
        own: list[list[T]] = []
        parents: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        blocks: list[int] = []
        # This loop runs once per distinct prefix (tens of thousands for the service tags), so
        # it appends segments inline rather than through a method.
        stack: list[tuple[int, int]] = []  # (last, block)
        pos = 0  # the first address not yet given to a segment
        for _, first, end, values in blocks_in_order:
            while stack and stack[-1][0] < first:
                last, block = stack.pop()
                if pos <= last:
                    starts.append(pos)
                    ends.append(last)
                    blocks.append(block)
                    pos = last + 1
            if stack:
                if pos < first:
                    starts.append(pos)
                    ends.append(first - 1)
                    blocks.append(stack[-1][1])
                parents.append(stack[-1][1])
            else:
                parents.append(-1)
            pos = max(pos, first)
            stack.append((end, len(own)))
            own.append(values)
        while stack:
            last, block = stack.pop()
            if pos <= last:
                starts.append(pos)
                ends.append(last)
                blocks.append(block)
                pos = last + 1
        self._own, self._parent = own, parents
        self._starts, self._ends, self._segment_block = starts, ends, blocks
        self._full: list[tuple[T, ...] | None] = [None] * len(own)

    def __len__(self) -> int:
        """The number of disjoint segments."""
        return len(self._starts)

    def covering(self, value: int) -> tuple[T, ...]:
        """The values of every range containing `value`, innermost first; () when none does."""
        i = bisect_right(self._starts, value) - 1
        if i < 0 or value > self._ends[i]:
            return ()
        return self._chain(self._segment_block[i])

    def innermost(self, value: int) -> T | None:
        """The first value of the innermost range containing `value`, or None."""
        i = bisect_right(self._starts, value) - 1
        if i < 0 or value > self._ends[i]:
            return None
        return self._own[self._segment_block[i]][0]

    def _chain(self, block: int) -> tuple[T, ...]:
        full = self._full[block]
        if full is None:
            own, parent = self._own[block], self._parent[block]
            # A value listed twice for one range (a tag repeating a prefix) counts once.
            full = tuple(dict.fromkeys(own))
            if parent >= 0:
                full += tuple(v for v in self._chain(parent) if v not in own)
            self._full[block] = full
        return full
