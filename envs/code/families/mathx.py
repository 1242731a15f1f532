"""Number problems."""

from __future__ import annotations

from envs.code.families import Family, repeat

M = "math"

FAMILIES = [
    Family(
        "digital_root_base", M, "$fn(n: int) -> int",
        """Write the non-negative integer `n` in base $b and replace it by the sum of its digits;
        repeat until a single base-$b digit is left, and return that digit as an int.""",
        """
        def $fn(n):
            while n >= $b:
                total = 0
                while n:
                    n, d = divmod(n, $b)
                    total += d
                n = total
            return n
        """,
        lambda rng, v: [(0,), (v["b"] - 1,)] + repeat(rng, 10, lambda r: (r.randint(0, 10 ** r.randint(1, 9)),)),
        ({"fn": "fold_digits_decimal", "b": 10}, {"fn": "fold_digits_octal", "b": 8}, {"fn": "fold_digits_hex", "b": 16}),
        (((9875,), 2),),
    ),
    Family(
        "multiples_sum", M, "$fn(limit: int) -> int",
        """Return the sum of all positive integers below `limit` that are multiples of $a or of $c
        (or both).""",
        """
        def $fn(limit):
            return sum(i for i in range(1, limit) if i % $a == 0 or i % $c == 0)
        """,
        lambda rng, v: [(0,), (1,)] + repeat(rng, 10, lambda r: (r.randint(2, 500),)),
        ({"fn": "fizz_total", "a": 3, "c": 5}, {"fn": "four_seven_total", "a": 4, "c": 7}, {"fn": "two_nine_total", "a": 2, "c": 9}),
        (((10,), 23),),
    ),
    Family(
        "fold_gcd_lcm", M, "$fn(values: list[int]) -> int",
        """Return the $what of the positive integers in `values` ($empty for an empty list).""",
        """
        import math

        def $fn(values):
            result = $empty
            for v in values:
                result = $step
            return result
        """,
        lambda rng, v: [([],), ([6],)] + repeat(rng, 10, lambda r: ([r.choice([2, 3, 4, 6, 9, 10, 12, 15]) * r.randint(1, 4) for _ in range(r.randint(1, 5))],)),
        ({"fn": "common_divisor_of_all", "what": "greatest common divisor", "empty": 0, "step": "math.gcd(result, v)"},
         {"fn": "common_multiple_of_all", "what": "least common multiple", "empty": 1, "step": "result * v // math.gcd(result, v)"},
         {"fn": "shared_factor", "what": "greatest common divisor", "empty": 0, "step": "math.gcd(v, result)"}),
        ((([12, 18, 30],), 6),),
    ),
    Family(
        "to_base", M, "$fn(n: int) -> str",
        """Return the integer `n` written in base $b, using the digits 0-9 then lower-case letters,
        with a leading '-' for negative numbers and "0" for zero.""",
        """
        def $fn(n):
            digits = "0123456789abcdefghijklmnopqrstuvwxyz"
            if n == 0:
                return "0"
            sign, n = ("-", -n) if n < 0 else ("", n)
            out = []
            while n:
                n, d = divmod(n, $b)
                out.append(digits[d])
            return sign + ''.join(reversed(out))
        """,
        lambda rng, v: [(0,), (-1,)] + repeat(rng, 10, lambda r: (r.randint(-5000, 10 ** 6),)),
        ({"fn": "in_base_three", "b": 3}, {"fn": "in_base_seven", "b": 7}, {"fn": "in_base_twenty", "b": 20}),
        (((-11,), "-102"), ((9,), "100")),
    ),
    Family(
        "is_power_of", M, "$fn(n: int) -> bool",
        """Return True if the integer `n` equals $k**e for some integer e >= 0, else False.""",
        """
        def $fn(n):
            if n < 1:
                return False
            while n % $k == 0:
                n //= $k
            return n == 1
        """,
        lambda rng, v: [(0,), (1,), (-v["k"],)] + repeat(rng, 9, lambda r: (v["k"] ** r.randint(0, 12) + r.choice([0, 0, 1, -1, v["k"]]),)),
        ({"fn": "is_power_of_three", "k": 3}, {"fn": "is_power_of_five", "k": 5}, {"fn": "is_power_of_six", "k": 6}),
        (((27,), True), ((28,), False), ((1,), True)),
    ),
    Family(
        "primes_ending", M, "$fn(n: int) -> int",
        """Return how many primes p with p <= n have last decimal digit $d.""",
        """
        def $fn(n):
            if n < 2:
                return 0
            sieve = [True] * (n + 1)
            sieve[0] = sieve[1] = False
            for i in range(2, int(n ** 0.5) + 1):
                if sieve[i]:
                    sieve[i * i::i] = [False] * len(sieve[i * i::i])
            return sum(1 for p in range(n + 1) if sieve[p] and p % 10 == $d)
        """,
        lambda rng, v: [(0,), (2,)] + repeat(rng, 10, lambda r: (r.randint(3, 3000),)),
        ({"fn": "primes_ending_in_three", "d": 3}, {"fn": "primes_ending_in_seven", "d": 7}, {"fn": "primes_ending_in_one", "d": 1}),
        (((30,), 3),),
    ),
    Family(
        "hailstone", M, "$fn(n: int) -> int",
        """Start from the positive integer `n` and repeat: if it is even halve it, otherwise replace it
        by 3 * n + 1; stop on reaching 1. Return $what.""",
        """
        def $fn(n):
            steps, peak, odds = 0, n, 0
            while n != 1:
                if n % 2:
                    odds += 1
                    n = 3 * n + 1
                else:
                    n //= 2
                steps += 1
                peak = max(peak, n)
            return $ret
        """,
        lambda rng, v: [(1,), (2,)] + repeat(rng, 10, lambda r: (r.randint(3, 5000),)),
        ({"fn": "hailstone_steps", "what": "the number of steps taken", "ret": "steps"},
         {"fn": "hailstone_peak", "what": "the largest value reached, n itself included", "ret": "peak"},
         {"fn": "hailstone_odd_moves", "what": "how many of the steps were taken from an odd number", "ret": "odds"}),
        (((6,), 8),),
    ),
    Family(
        "int_root", M, "$fn(n: int) -> int",
        """Return the largest integer r >= 0 with r**$k <= n, for a non-negative integer `n` (it may
        be very large; floating point is not precise enough).""",
        """
        def $fn(n):
            lo, hi = 0, 1
            while hi ** $k <= n:
                hi *= 2
            while lo < hi - 1:
                mid = (lo + hi) // 2
                if mid ** $k <= n:
                    lo = mid
                else:
                    hi = mid
            return lo if n >= 1 else 0
        """,
        lambda rng, v: [(0,), (1,), (10 ** 40 + 7,)] + repeat(rng, 9, lambda r: (r.randint(0, 10 ** r.randint(1, 30)),)),
        ({"fn": "floor_square_root", "k": 2}, {"fn": "floor_cube_root", "k": 3}, {"fn": "floor_fifth_root", "k": 5}),
        (((17,), 4), ((16,), 4)),
    ),
    Family(
        "polygonal", M, "$fn(count: int) -> list[int]",
        """Return the first `count` $name numbers, where the i-th (i = 1, 2, ...) is
        (($s - 2) * i * i - ($s - 4) * i) // 2.""",
        """
        def $fn(count):
            return [(($s - 2) * i * i - ($s - 4) * i) // 2 for i in range(1, count + 1)]
        """,
        lambda rng, v: [(0,), (1,)] + repeat(rng, 10, lambda r: (r.randint(2, 25),)),
        ({"fn": "first_triangular", "name": "triangular", "s": 3}, {"fn": "first_pentagonal", "name": "pentagonal", "s": 5},
         {"fn": "first_octagonal", "name": "octagonal", "s": 8}),
        (((5,), [1, 3, 6, 10, 15]),),
    ),
    Family(
        "persistence", M, "$fn(n: int) -> int",
        """Return how many times you must replace the non-negative integer `n` by the $what of its
        base-$b digits until it has a single base-$b digit.""",
        """
        def $fn(n):
            count = 0
            while n >= $b:
                digits = []
                while n:
                    n, d = divmod(n, $b)
                    digits.append(d)
                n = $combine
                count += 1
            return count
        """,
        lambda rng, v: [(0,), (7,)] + repeat(rng, 10, lambda r: (r.randint(10, 10 ** r.randint(2, 12)),)),
        ({"fn": "product_persistence", "what": "product", "b": 10, "combine": "__import__('math').prod(digits)"},
         {"fn": "sum_persistence", "what": "sum", "b": 10, "combine": "sum(digits)"},
         {"fn": "octal_product_persistence", "what": "product", "b": 8, "combine": "__import__('math').prod(digits)"}),
        (((39,), 3), ((999,), 4)),
    ),
    Family(
        "digit_power_sum", M, "$fn(n: int) -> int",
        """Return the sum of the $p-th powers of the decimal digits of the integer `n` (ignore its sign).""",
        """
        def $fn(n):
            return sum(int(d) ** $p for d in str(abs(n)))
        """,
        lambda rng, v: [(0,), (-12,)] + repeat(rng, 10, lambda r: (r.randint(-10 ** 6, 10 ** 9),)),
        ({"fn": "square_digit_sum", "p": 2}, {"fn": "cube_digit_sum", "p": 3}, {"fn": "fourth_power_digit_sum", "p": 4}),
        (((12,), 5), ((-3,), 9)),
    ),
    Family(
        "reduce_fraction", M, "$fn(num: int, den: int) -> $rtype",
        """Reduce the fraction num/den (den != 0) to lowest terms with a positive denominator and
        return it as $shape.""",
        """
        import math

        def $fn(num, den):
            g = math.gcd(num, den)
            num, den = num // g, den // g
            if den < 0:
                num, den = -num, -den
            return $ret
        """,
        lambda rng, v: [(0, 5), (4, -6)] + repeat(rng, 10, lambda r: (r.randint(-60, 60), r.choice([1, -1]) * r.randint(1, 40))),
        ({"fn": "lowest_terms", "rtype": "tuple[int, int]", "shape": "a tuple (numerator, denominator)", "ret": "(num, den)"},
         {"fn": "lowest_terms_text", "rtype": "str", "shape": 'the string "numerator/denominator"', "ret": 'f"{num}/{den}"'},
         {"fn": "lowest_denominator", "rtype": "int", "shape": "just the denominator", "ret": "den"}),
        (((6, -8), (-3, 4)), ((0, 5), (0, 1))),
    ),
]
