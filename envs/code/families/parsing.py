"""Parsing problems."""

from __future__ import annotations

from envs.code.families import Family, repeat, word

P = "parsing"


def pairs_text(rng, sep, eq):
    items = []
    for _ in range(rng.randint(0, 5)):
        value = str(rng.randint(0, 999)) if rng.random() < 0.5 else word(rng, 1, 5)
        items.append(f"{word(rng, 1, 4)}{eq}{value}")
    return sep.join(items)


def arith(rng, ops):
    out = str(rng.randint(0, 20))
    for _ in range(rng.randint(0, 5)):
        out += rng.choice(ops) + str(rng.randint(0, 20))
    return out


def roman(n):
    table = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
             (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for value, sym in table:
        while n >= value:
            out, n = out + sym, n - value
    return out


def csv_line(rng, d):
    fields = []
    for _ in range(rng.randint(1, 5)):
        f = "".join(rng.choice("ab 1" + d + '"') for _ in range(rng.randint(0, 6)))
        fields.append('"' + f.replace('"', '""') + '"' if (d in f or '"' in f or rng.random() < 0.3) else f)
    return d.join(fields)


FAMILIES = [
    Family(
        "key_values", P, "$fn(spec: str) -> dict",
        """`spec` holds entries separated by '$sep', each of the form key${eq}value. Return a dict from
        each key to its value, converted to int when the value consists of digits only (a later
        entry overrides an earlier one with the same key). An empty string gives an empty dict.""",
        """
        def $fn(spec):
            out = {}
            for item in spec.split('$sep') if spec else []:
                key, value = item.split('$eq', 1)
                out[key] = int(value) if value.isdigit() else value
            return out
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (pairs_text(r, v["sep"], v["eq"]),)),
        ({"fn": "parse_settings", "sep": ";", "eq": "="}, {"fn": "parse_header_fields", "sep": ",", "eq": ":"},
         {"fn": "parse_form_data", "sep": "&", "eq": "="}),
        ((("a=1;b=x;a=22",), {"a": 22, "b": "x"}),),
    ),
    Family(
        "arith_eval", P, "$fn(expr: str) -> int",
        """`expr` is a non-empty expression of non-negative integers joined by $ops, without spaces
        or parentheses. Return its value, $rule.""",
        """
        def $fn(expr):
            tokens, num = [], ''
            for ch in expr:
                if ch.isdigit():
                    num += ch
                else:
                    tokens += [int(num), ch]
                    num = ''
            tokens.append(int(num))
            if $precedence:
                merged = [tokens[0]]
                for i in range(1, len(tokens), 2):
                    if tokens[i] == '*':
                        merged[-1] *= tokens[i + 1]
                    else:
                        merged += [tokens[i], tokens[i + 1]]
                tokens = merged
            value = tokens[0]
            for i in range(1, len(tokens), 2):
                op, x = tokens[i], tokens[i + 1]
                value = value + x if op == '+' else value - x if op == '-' else value * x
            return value
        """,
        lambda rng, v: [("7",)] + repeat(rng, 11, lambda r: (arith(r, v["chars"]),)),
        ({"fn": "add_subtract", "ops": "'+' and '-'", "chars": "+-", "rule": "evaluated left to right", "precedence": False},
         {"fn": "calc_with_precedence", "ops": "'+', '-' and '*'", "chars": "+-*", "rule": "with '*' binding tighter than '+' and '-' as usual", "precedence": True},
         {"fn": "calc_left_to_right", "ops": "'+', '-' and '*'", "chars": "+-*", "rule": "applying every operator strictly from left to right (no precedence)", "precedence": False}),
        ((("12+3-4",), 11),),
    ),
    Family(
        "clock", P, "$fn($params) -> int",
        """$doc""",
        """
        def $fn($params):
            def secs(t):
                parts = [int(p) for p in t.split(':')]
                while len(parts) < 3:
                    parts.append(0)
                return parts[0] * 3600 + parts[1] * 60 + parts[2]
            return $ret
        """,
        lambda rng, v: repeat(rng, 12, lambda r: tuple(
            ":".join(f"{x:02d}" for x in [r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)][:v["parts"]]) for _ in range(v["args"]))),
        ({"fn": "minutes_since_midnight", "params": "t: str", "args": 1, "parts": 2, "ret": "secs(t) // 60",
          "doc": 'Convert a 24-hour time "HH:MM" to the number of minutes since midnight.'},
         {"fn": "seconds_since_midnight", "params": "t: str", "args": 1, "parts": 3, "ret": "secs(t)",
          "doc": 'Convert a 24-hour time "HH:MM:SS" to the number of seconds since midnight.'},
         {"fn": "minutes_until", "params": "start: str, end: str", "args": 2, "parts": 2, "ret": "(secs(end) - secs(start)) // 60 % 1440",
          "doc": 'Both arguments are 24-hour times "HH:MM". Return how many minutes pass from `start` until the clock next shows `end` (0 if they are equal).'}),
        ((("01:30",), 90),),
    ),
    Family(
        "roman_reader", P, "$fn(text: str) -> int",
        """$doc""",
        """
        def $fn(text):
            values = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}
            def one(r):
                total = 0
                for i, ch in enumerate(r):
                    v = values[ch]
                    total += -v if i + 1 < len(r) and values[r[i + 1]] > v else v
                return total
            return $ret
        """,
        lambda rng, v: [(roman(1),)] + repeat(rng, 11, lambda r: (v["sep"].join(roman(r.randint(1, 3999)) for _ in range(v["n"](r))),)),
        ({"fn": "read_roman", "sep": " ", "n": lambda r: 1, "ret": "one(text)",
          "doc": "Return the value of the upper-case Roman numeral `text` (standard subtractive notation, 1 to 3999)."},
         {"fn": "total_of_romans", "sep": " ", "n": lambda r: r.randint(1, 4), "ret": "sum(one(r) for r in text.split())",
          "doc": "`text` holds upper-case Roman numerals (standard subtractive notation) separated by spaces. Return the sum of their values."},
         {"fn": "largest_roman", "sep": ",", "n": lambda r: r.randint(1, 4), "ret": "max(one(r) for r in text.split(','))",
          "doc": "`text` holds upper-case Roman numerals (standard subtractive notation) separated by commas. Return the largest value."}),
        ((("MCMXCIV",), 1994),),
    ),
    Family(
        "split_quoted", P, "$fn(line: str) -> list[str]",
        """Split `line` into fields separated by '$d'. A field may be wrapped in double quotes; inside
        quotes the separator is an ordinary character and two double quotes stand for one. Return the
        field values without the wrapping quotes.""",
        """
        def $fn(line):
            fields, cur, quoted, i = [], [], False, 0
            while i < len(line):
                ch = line[i]
                if quoted:
                    if ch == '"' and line[i + 1:i + 2] == '"':
                        cur.append('"')
                        i += 1
                    elif ch == '"':
                        quoted = False
                    else:
                        cur.append(ch)
                elif ch == '"':
                    quoted = True
                elif ch == '$d':
                    fields.append(''.join(cur))
                    cur = []
                else:
                    cur.append(ch)
                i += 1
            fields.append(''.join(cur))
            return fields
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (csv_line(r, v["d"]),)),
        ({"fn": "split_csv_fields", "d": ","}, {"fn": "split_semicolon_fields", "d": ";"}, {"fn": "split_pipe_fields", "d": "|"}),
        ((('a,"b,c",""""',), ["a", "b,c", '"']),),
    ),
    Family(
        "duration", P, "$fn(spec: str) -> int",
        """`spec` is a duration such as "$example": numbers each followed by one of the unit letters
        $units, in any order, possibly repeated. Return the total in $target.""",
        """
        def $fn(spec):
            sizes = $sizes
            total, num = 0, ''
            for ch in spec:
                if ch.isdigit():
                    num += ch
                else:
                    total += int(num) * sizes[ch]
                    num = ''
            return total
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: ("".join(f"{r.randint(0, 99)}{r.choice(list(v['sizes']))}" for _ in range(r.randint(1, 4))),)),
        ({"fn": "duration_in_seconds", "example": "1h30m15s", "units": "h, m, s", "target": "seconds", "sizes": {"h": 3600, "m": 60, "s": 1}},
         {"fn": "duration_in_minutes", "example": "2d3h", "units": "d, h, m", "target": "minutes", "sizes": {"d": 1440, "h": 60, "m": 1}},
         {"fn": "duration_in_days", "example": "3w2d", "units": "w, d", "target": "days", "sizes": {"w": 7, "d": 1}}),
        ((("1h30m15s",), 5415),),
    ),
    Family(
        "bracket_pairs", P, "$fn(s: str) -> list[tuple[int, int]]",
        """Match the brackets '$o' and '$c' in `s` (other characters are ignored). Return the list of
        (open index, close index) pairs sorted by open index, or [] if they are not balanced.""",
        """
        def $fn(s):
            stack, pairs = [], []
            for i, ch in enumerate(s):
                if ch == '$o':
                    stack.append(i)
                elif ch == '$c':
                    if not stack:
                        return []
                    pairs.append((stack.pop(), i))
            return [] if stack else sorted(pairs)
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: ("".join(r.choice(v["o"] * 3 + v["c"] * 3 + "ab") for _ in range(r.randint(1, 10))) if r.random() < 0.5
                                                         else "x".join(v["o"] * k + v["c"] * k for k in range(r.randint(1, 3))),)),
        ({"fn": "pair_parentheses", "o": "(", "c": ")"}, {"fn": "match_square_brackets", "o": "[", "c": "]"}, {"fn": "match_braces", "o": "{", "c": "}"}),
        ((("(a(b))",), [(0, 5), (2, 4)]),),
    ),
    Family(
        "version_cmp", P, "$fn(a: str, b: str) -> int",
        """`a` and `b` are version numbers: non-negative integers separated by '$sep'. Compare them
        component by component (missing components count as 0) and return -1 if a < b, 0 if they
        are equal and 1 if a > b.""",
        """
        def $fn(a, b):
            x = [int(p) for p in a.split('$sep')]
            y = [int(p) for p in b.split('$sep')]
            n = max(len(x), len(y))
            x += [0] * (n - len(x))
            y += [0] * (n - len(y))
            return (x > y) - (x < y)
        """,
        lambda rng, v: [("1", "1" + v["sep"] + "0")] + repeat(rng, 11, lambda r: tuple(v["sep"].join(str(r.randint(0, 12)) for _ in range(r.randint(1, 4))) for _ in range(2))),
        ({"fn": "compare_versions", "sep": "."}, {"fn": "compare_build_tags", "sep": "-"}, {"fn": "compare_release_ids", "sep": "_"}),
        ((("1.2.10", "1.10"), -1), (("2.0", "2"), 0)),
    ),
    Family(
        "numbers_in_text", P, "$fn(text: str) -> $rtype",
        """Find every integer written in `text` (a run of digits, with a '-' directly in front making
        it negative) and return $what.""",
        """
        import re

        def $fn(text):
            found = [int(m) for m in re.findall(r'-?[0-9]+', text)]
            return $ret
        """,
        lambda rng, v: [("no digits",)] + repeat(rng, 11, lambda r: (" ".join(r.choice([word(r, 1, 5), str(r.randint(-99, 999)), f"x{r.randint(0, 9)}-{r.randint(0, 9)}"]) for _ in range(r.randint(0, 6))),)),
        ({"fn": "sum_of_numbers", "rtype": "int", "what": "their sum (0 if there are none)", "ret": "sum(found)"},
         {"fn": "list_numbers", "rtype": "list[int]", "what": "them in order of appearance", "ret": "found"},
         {"fn": "largest_number", "rtype": "int | None", "what": "the largest (None if there are none)", "ret": "max(found) if found else None"}),
        ((("a12b-3c",), 9),),
    ),
    Family(
        "top_words", P, "$fn(text: str) -> list[str]",
        """Words are maximal runs of ASCII letters in `text`, compared in lower case. Return the $k most
        frequent words in lower case, most frequent first, ties broken alphabetically (fewer if there
        are fewer distinct words).""",
        """
        import re

        def $fn(text):
            counts = {}
            for w in re.findall(r'[A-Za-z]+', text):
                counts[w.lower()] = counts.get(w.lower(), 0) + 1
            return sorted(counts, key=lambda w: (-counts[w], w))[:$k]
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (" ".join(r.choice(["Tea", "tea", "cup", "Cup", "pot", "jar", "x1y", "sun!"]) for _ in range(r.randint(1, 12))),)),
        ({"fn": "favourite_word", "k": 1}, {"fn": "two_favourite_words", "k": 2}, {"fn": "podium_words", "k": 3}),
        ((("b a B c a b",), ["b"]),),
    ),
]
