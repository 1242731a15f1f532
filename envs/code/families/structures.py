"""Data-structure problems: stacks, queues, dicts, sets, matrices, trees, graphs, caches."""

from __future__ import annotations

from envs.code.families import Family, ints, repeat, word, words

D = "structures"


def rpn(rng, sep, ops):
    depth, tokens = 0, []
    for _ in range(rng.randint(1, 7)):
        if depth >= 2 and rng.random() < 0.5:
            tokens.append(rng.choice(ops))
            depth -= 1
        else:
            tokens.append(str(rng.randint(0, 9)))
            depth += 1
    while depth > 1:
        tokens.append(rng.choice(ops))
        depth -= 1
    return sep.join(tokens)


def tree(rng, depth=0):
    if depth > 4 or rng.random() < 0.25 + 0.1 * depth:
        return None
    return (rng.randint(-9, 9), tree(rng, depth + 1), tree(rng, depth + 1))


def edges(rng, n):
    return [tuple(sorted(rng.sample(range(n), 2))) for _ in range(rng.randint(0, n))] if n >= 2 else []


FAMILIES = [
    Family(
        "rpn", D, "$fn(expr: str) -> int",
        """Evaluate `expr`, an expression in reverse Polish notation whose tokens are separated by
        '$sep': integers and the operators $ops. Each operator pops the right operand, then the left,
        and pushes the result. Return the single value left on the stack.""",
        """
        def $fn(expr):
            stack = []
            for tok in expr.split('$sep'):
                if tok in ('+', '-', '*', '%'):
                    b, a = stack.pop(), stack.pop()
                    stack.append(a + b if tok == '+' else a - b if tok == '-' else a * b if tok == '*' else max(a, b))
                else:
                    stack.append(int(tok))
            return stack[0]
        """,
        lambda rng, v: [("4",)] + repeat(rng, 11, lambda r: (rpn(r, v["sep"], v["opset"]),)),
        ({"fn": "eval_postfix", "sep": " ", "ops": "'+', '-' and '*'", "opset": "+-*"},
         {"fn": "eval_postfix_csv", "sep": ",", "ops": "'+', '-' and '*'", "opset": "+-*"},
         {"fn": "eval_postfix_with_max", "sep": " ", "ops": "'+', '-', '*' and '%' (which here means the larger of the two operands)", "opset": "+-*%"}),
        ((("3 4 + 2 *",), 14),),
    ),
    Family(
        "josephus", D, "$fn(n: int) -> int",
        """`n` people numbered 1 to n stand in a circle. Counting starts at person 1; every $k-th person
        counted leaves the circle and counting continues with the next person still standing.
        Return the number of the last person left (n >= 1).""",
        """
        def $fn(n):
            people = list(range(1, n + 1))
            i = 0
            while len(people) > 1:
                i = (i + $k - 1) % len(people)
                people.pop(i)
            return people[0]
        """,
        lambda rng, v: [(1,), (2,)] + repeat(rng, 10, lambda r: (r.randint(3, 60),)),
        ({"fn": "last_in_circle_by_twos", "k": 2}, {"fn": "last_in_circle_by_threes", "k": 3}, {"fn": "last_in_circle_by_fives", "k": 5}),
        (((5,), 3), ((7,), 7)),
    ),
    Family(
        "group_by_key", D, "$fn(words: list[str]) -> dict",
        """Group `words` by $what. Return a dict from each key to the sorted list of the distinct words
        with that key.""",
        """
        def $fn(words):
            groups = {}
            for w in words:
                groups.setdefault($key, set()).add(w)
            return {k: sorted(v) for k, v in groups.items()}
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: (words(r, 1, 8, lo=1, hi=4, letters="abct"),)),
        ({"fn": "bucket_by_length", "what": "their length (an int key)", "key": "len(w)"},
         {"fn": "bucket_by_initial", "what": "their first letter", "key": "w[0]"},
         {"fn": "bucket_anagrams", "what": "their letters in sorted order (a string key, e.g. 'act' for 'cat')", "key": "''.join(sorted(w))"}),
        (((["cat", "act", "dog", "cat"],), {3: ["act", "cat", "dog"]}),),
    ),
    Family(
        "invert_mapping", D, "$fn(mapping: dict) -> dict",
        """Invert `mapping` (string keys, int values): return a dict from each value to $what.""",
        """
        def $fn(mapping):
            out = {}
            for k, v in mapping.items():
                out.setdefault(v, []).append(k)
            return {v: $agg for v, ks in out.items()}
        """,
        lambda rng, v: [({},)] + repeat(rng, 11, lambda r: ({word(r, 1, 3, letters="abcd"): r.randint(0, 4) for _ in range(r.randint(1, 8))},)),
        ({"fn": "owners_by_value", "what": "the sorted list of the keys that map to it", "agg": "sorted(ks)"},
         {"fn": "value_popularity", "what": "how many keys map to it", "agg": "len(ks)"},
         {"fn": "last_owner_by_value", "what": "the alphabetically largest key that maps to it", "agg": "max(ks)"}),
        ((({"a": 1, "b": 2, "c": 1},), {1: ["a", "c"], 2: ["b"]}),),
    ),
    Family(
        "grid_transform", D, "$fn(grid: list[list[int]]) -> list[list[int]]",
        """`grid` is a rectangular matrix given as a list of rows. Return a new matrix: $what.""",
        """
        def $fn(grid):
            return $ret
        """,
        lambda rng, v: [([],), ([[1]],)] + repeat(rng, 10, lambda r: ((lambda w: [[r.randint(0, 9) for _ in range(w)] for _ in range(r.randint(1, 4))])(r.randint(1, 4)),)),
        ({"fn": "turn_clockwise", "what": "the grid rotated 90 degrees clockwise", "ret": "[list(row) for row in zip(*grid[::-1])]"},
         {"fn": "mirror_rows", "what": "every row reversed (a left-right mirror)", "ret": "[row[::-1] for row in grid]"},
         {"fn": "swap_axes", "what": "the transpose (rows become columns)", "ret": "[list(col) for col in zip(*grid)]"}),
        ((([[1, 2], [3, 4], [5, 6]],), [[5, 3, 1], [6, 4, 2]]),),
    ),
    Family(
        "multiset_ops", D, "$fn(a: list[int], b: list[int]) -> list[int]",
        """Return, sorted ascending, $what.""",
        """
        from collections import Counter

        def $fn(a, b):
            return sorted($ret)
        """,
        lambda rng, v: [([], [])] + repeat(rng, 11, lambda r: (ints(r, 0, 8, 0, 6), ints(r, 0, 8, 0, 6))),
        ({"fn": "shared_items", "what": "the elements common to both lists, each as many times as it occurs in both (the smaller count)", "ret": "(Counter(a) & Counter(b)).elements()"},
         {"fn": "items_in_exactly_one", "what": "each distinct value that occurs in exactly one of the two lists, once", "ret": "set(a) ^ set(b)"},
         {"fn": "leftover_items", "what": "the elements of `a` left after removing, for each element of `b`, one equal element of `a` if there is one", "ret": "(Counter(a) - Counter(b)).elements()"}),
        ((([1, 1, 2, 3], [1, 3, 3, 4]), [1, 3]),),
    ),
    Family(
        "frequent_gram", D, "$fn(items: list) -> tuple | None",
        """Return the most frequent run of $n consecutive elements of `items`, as a tuple (runs may
        overlap). On a tie return the run whose first occurrence comes first; return None when
        `items` has fewer than $n elements.""",
        """
        def $fn(items):
            counts, first = {}, {}
            for i in range(len(items) - $n + 1):
                g = tuple(items[i:i + $n])
                counts[g] = counts.get(g, 0) + 1
                first.setdefault(g, i)
            if not counts:
                return None
            return min(counts, key=lambda g: (-counts[g], first[g]))
        """,
        lambda rng, v: [([],), ([1],)] + repeat(rng, 10, lambda r: ([r.choice(v["alphabet"]) for _ in range(r.randint(2, 14))],)),
        ({"fn": "common_pair", "n": 2, "alphabet": [1, 2, 3]}, {"fn": "common_triple", "n": 3, "alphabet": [0, 1]},
         {"fn": "common_letter_pair", "n": 2, "alphabet": list("xyz")}),
        ((([1, 2, 1, 2, 3, 3, 3],), (1, 2)),),
    ),
    Family(
        "tree_stat", D, "$fn(tree) -> int",
        """A binary tree is either None (empty) or a tuple (value, left, right) of an int and two
        trees. Return $what of `tree`.""",
        """
        def $fn(tree):
            if tree is None:
                return 0
            value, left, right = tree
            $body
        """,
        lambda rng, v: [(None,), ((5, None, None),)] + repeat(rng, 10, lambda r: (tree(r),)),
        ({"fn": "tree_height", "what": "the height (number of nodes on the longest path from the root down; 0 for an empty tree)",
          "body": "return 1 + max(tree_height(left), tree_height(right))"},
         {"fn": "leaf_value_total", "what": "the sum of the values of the leaves (nodes without children; 0 for an empty tree)",
          "body": "return value if left is None and right is None else leaf_value_total(left) + leaf_value_total(right)"},
         {"fn": "single_child_nodes", "what": "the number of nodes that have exactly one child",
          "body": "return ((left is None) != (right is None)) + single_child_nodes(left) + single_child_nodes(right)"}),
        ((((1, (2, None, None), (3, (4, None, None), None)),), 3),),
    ),
    Family(
        "components", D, "$fn(n: int, edges: list[tuple[int, int]]) -> $rtype",
        """An undirected graph has nodes 0 .. n-1 and the given edges (pairs of nodes). Return $what.""",
        """
        def $fn(n, edges):
            parent = list(range(n))
            def find(x):
                while parent[x] != x:
                    parent[x] = parent[parent[x]]
                    x = parent[x]
                return x
            for a, b in edges:
                parent[find(a)] = find(b)
            roots = [find(x) for x in range(n)]
            return $ret
        """,
        lambda rng, v: [(1, [])] + repeat(rng, 11, lambda r: (lambda n: (n, edges(r, n)))(r.randint(2, 9))),
        ({"fn": "count_islands", "rtype": "int", "what": "the number of connected components", "ret": "len(set(roots))"},
         {"fn": "largest_cluster", "rtype": "int", "what": "the number of nodes in the largest connected component", "ret": "max(roots.count(r) for r in roots)"},
         {"fn": "ends_connected", "rtype": "bool", "what": "True if node 0 and node n-1 are connected by a path", "ret": "roots[0] == roots[-1]"}),
        (((5, [(0, 1), (1, 2), (3, 4)]), 2),),
    ),
    Family(
        "cache_misses", D, "$fn(requests: list[int]) -> int",
        """A cache holds at most $c items and starts empty. Requests for `requests` are served in order;
        a request for an item not in the cache is a miss and puts the item in the cache, first
        evicting $policy if the cache is full. Return the number of misses.""",
        """
        def $fn(requests):
            cache = []
            misses = 0
            for x in requests:
                if x in cache:
                    if $lru:
                        cache.remove(x)
                        cache.append(x)
                    continue
                misses += 1
                if len(cache) == $c:
                    cache.pop(0)
                cache.append(x)
            return misses
        """,
        lambda rng, v: [([],)] + repeat(rng, 11, lambda r: (ints(r, 1, 14, 0, 5),)),
        ({"fn": "lru_misses_two", "c": 2, "policy": "the least recently requested item", "lru": True},
         {"fn": "lru_misses_three", "c": 3, "policy": "the least recently requested item", "lru": True},
         {"fn": "fifo_misses_three", "c": 3, "policy": "the item that entered the cache earliest", "lru": False}),
        ((([1, 2, 1, 3, 2, 1],), 5),),
    ),
]
