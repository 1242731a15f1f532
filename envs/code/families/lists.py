"""List problems."""

from __future__ import annotations

from envs.code.families import Family, ints, repeat

L = "lists"


def nested(rng, depth=0):
    out = []
    for _ in range(rng.randint(0, 4)):
        out.append(nested(rng, depth + 1) if depth < 3 and rng.random() < 0.35 else rng.randint(0, 9))
    return out


FAMILIES = [
    Family(
        "rotate_right", L, "$fn(items: list) -> list",
        """Return a new list with the elements of `items` rotated $k places to the right (the last
        element moves to the front, $k times). An empty list stays empty.""",
        """
        def $fn(items):
            if not items:
                return []
            k = $k % len(items)
            return items[len(items) - k:] + items[:len(items) - k]
        """,
        lambda rng, v: [([],), ([1],)] + repeat(rng, 10, lambda r: (ints(r, 1, 8),)),
        ({"fn": "spin_right_twice", "k": 2}, {"fn": "carousel_step", "k": 1}, {"fn": "rotate_by_five", "k": 5}),
        ((([1, 2, 3, 4, 5],), [4, 5, 1, 2, 3]),),
    ),
    Family(
        "chunk", L, "$fn(items: list) -> list",
        """Split `items` into consecutive groups of $k elements (the last group may be shorter) and
        return the list of groups, each a list.""",
        """
        def $fn(items):
            return [items[i:i + $k] for i in range(0, len(items), $k)]
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: (ints(r, 1, 11),)),
        ({"fn": "pair_up", "k": 2}, {"fn": "group_in_threes", "k": 3}, {"fn": "batch_of_four", "k": 4}),
        ((([1, 2, 3, 4, 5],), [[1, 2], [3, 4], [5]]),),
    ),
    Family(
        "running", L, "$fn(values: list[int]) -> list[int]",
        """Return the list whose i-th element is the $what of values[0], ..., values[i].""",
        """
        def $fn(values):
            out = []
            for v in values:
                out.append(v if not out else $op(out[-1], v))
            return out
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: (ints(r, 1, 10),)),
        ({"fn": "high_water_marks", "what": "maximum", "op": "max"}, {"fn": "low_water_marks", "what": "minimum", "op": "min"},
         {"fn": "cumulative_totals", "what": "sum", "op": "(lambda a, b: a + b)"}),
        ((([3, 1, 4, 1, 5],), [3, 3, 4, 4, 5]),),
    ),
    Family(
        "gap_diffs", L, "$fn(values: list[int]) -> list[int]",
        """Return [values[i + $k] - values[i] for every i where values[i + $k] exists].""",
        """
        def $fn(values):
            return [values[i + $k] - values[i] for i in range(len(values) - $k)]
        """,
        lambda rng, v: [([],), ([5],)] + repeat(rng, 10, lambda r: (ints(r, 1, 10),)),
        ({"fn": "step_changes", "k": 1}, {"fn": "skip_one_changes", "k": 2}, {"fn": "lag_three_changes", "k": 3}),
        ((([1, 4, 9, 16],), [3, 5, 7]),),
    ),
    Family(
        "kth_distinct", L, "$fn(values: list[int]) -> int | None",
        """Return the $k-th $order distinct value of `values` (counting from 1), or None when there
        are fewer than $k distinct values.""",
        """
        def $fn(values):
            distinct = sorted(set(values), reverse=$rev)
            return distinct[$k - 1] if len(distinct) >= $k else None
        """,
        lambda rng, v: [([],), ([7, 7, 7],)] + repeat(rng, 10, lambda r: (ints(r, 1, 9, -5, 5),)),
        ({"fn": "runner_up_value", "k": 2, "order": "largest", "rev": True},
         {"fn": "bronze_value", "k": 3, "order": "largest", "rev": True},
         {"fn": "second_lowest_value", "k": 2, "order": "smallest", "rev": False}),
        ((([5, 1, 5, 3],), 3),),
    ),
    Family(
        "sink_value", L, "$fn(values: list[int]) -> list[int]",
        """Return a new list with every element equal to $x moved to the end; the other elements keep
        their relative order.""",
        """
        def $fn(values):
            return [v for v in values if v != $x] + [v for v in values if v == $x]
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: ([r.choice([v["x"], r.randint(-3, 9)]) for _ in range(r.randint(1, 9))],)),
        ({"fn": "zeros_to_back", "x": 0}, {"fn": "sevens_to_back", "x": 7}, {"fn": "minus_ones_to_back", "x": -1}),
        ((([0, 1, 0, 3, 12],), [1, 3, 12, 0, 0]),),
    ),
    Family(
        "pair_sum_count", L, "$fn(values: list[int]) -> int",
        """Return the number of index pairs (i, j) with i < j and values[i] + values[j] == $t.""",
        """
        def $fn(values):
            return sum(1 for i in range(len(values)) for j in range(i + 1, len(values)) if values[i] + values[j] == $t)
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: (ints(r, 1, 10, -5, 12),)),
        ({"fn": "pairs_making_ten", "t": 10}, {"fn": "cancelling_pairs", "t": 0}, {"fn": "pairs_making_seven", "t": 7}),
        ((([5, 5, 5, 3, 7],), 4),),
    ),
    Family(
        "best_window", L, "$fn(values: list[int]) -> int | None",
        """Return the largest sum of $k consecutive elements of `values`, or None when the list has
        fewer than $k elements.""",
        """
        def $fn(values):
            if len(values) < $k:
                return None
            return max(sum(values[i:i + $k]) for i in range(len(values) - $k + 1))
        """,
        lambda rng, v: [([],), ([1],)] + repeat(rng, 10, lambda r: (ints(r, 2, 10),)),
        ({"fn": "best_pair_total", "k": 2}, {"fn": "best_three_day_total", "k": 3}, {"fn": "best_four_block", "k": 4}),
        ((([1, -2, 5, 4, -1],), 9),),
    ),
    Family(
        "flatten_depth", L, "$fn(items: list) -> list",
        """`items` is a list whose elements are integers or lists (nested to any depth). Remove $d
        level(s) of nesting: every list found inside `items`, down to $d level(s), is replaced by its
        elements, in order; deeper lists stay as they are.""",
        """
        def $fn(items):
            def go(xs, d):
                out = []
                for x in xs:
                    if isinstance(x, list) and d > 0:
                        out.extend(go(x, d - 1))
                    else:
                        out.append(x)
                return out
            return go(items, $d)
        """,
        lambda rng, v: [([],), ([[[]]],)] + repeat(rng, 10, lambda r: (nested(r),)),
        ({"fn": "unwrap_once", "d": 1}, {"fn": "unwrap_twice", "d": 2}, {"fn": "unwrap_thrice", "d": 3}),
        ((([1, [2, [3, [4]]]],), [1, 2, [3, [4]]]),),
    ),
    Family(
        "longest_trend", L, "$fn(values: list[int]) -> int",
        """Return the length of the longest contiguous stretch of `values` in which each element is
        $rel the one before it (a single element counts as a stretch of 1; an empty list gives 0).""",
        """
        def $fn(values):
            best = cur = 0
            for i, v in enumerate(values):
                cur = cur + 1 if i and v $cmp values[i - 1] else 1
                best = max(best, cur)
            return best
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: (ints(r, 1, 12, 0, 6),)),
        ({"fn": "longest_climb", "rel": "strictly greater than", "cmp": ">"},
         {"fn": "longest_descent", "rel": "strictly less than", "cmp": "<"},
         {"fn": "longest_non_dip", "rel": "greater than or equal to", "cmp": ">="}),
        ((([1, 2, 2, 3, 4, 1],), 3),),
    ),
    Family(
        "merge_sorted", L, "$fn(a: list[int], b: list[int]) -> list[int]",
        """`a` and `b` are each sorted in $order order. Return one list in $order order holding
        $keep.""",
        """
        def $fn(a, b):
            merged = $pool
            return sorted(merged, reverse=$rev)
        """,
        lambda rng, v: [([], [])] + repeat(rng, 11, lambda r: tuple(sorted(ints(r, 0, 7, 0, 9), reverse=v["rev"]) for _ in range(2))),
        ({"fn": "combine_ascending", "order": "ascending", "keep": "all elements of both (duplicates kept)", "pool": "a + b", "rev": False},
         {"fn": "union_ascending", "order": "ascending", "keep": "each distinct value of either list once", "pool": "set(a) | set(b)", "rev": False},
         {"fn": "combine_descending", "order": "descending", "keep": "all elements of both (duplicates kept)", "pool": "a + b", "rev": True}),
        ((([1, 3, 3], [2, 3]), [1, 2, 3, 3, 3]),),
    ),
]
