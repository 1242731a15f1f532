"""String problems."""

from __future__ import annotations

import string

from envs.code.families import Family, repeat, text, word, words

S = "strings"

FAMILIES = [
    Family(
        "caesar", S, "$fn(message: str) -> str",
        """Shift every ASCII letter of `message` $k places forward in the alphabet, wrapping around from
        z to a (and Z to A) and keeping its case. All other characters stay as they are.""",
        """
        def $fn(message):
            out = []
            for ch in message:
                if 'a' <= ch <= 'z':
                    out.append(chr((ord(ch) - 97 + $k) % 26 + 97))
                elif 'A' <= ch <= 'Z':
                    out.append(chr((ord(ch) - 65 + $k) % 26 + 65))
                else:
                    out.append(ch)
            return ''.join(out)
        """,
        lambda rng, v: [("",), ("xyz XYZ",)] + repeat(rng, 10, lambda r: (text(r),)),
        ({"fn": "shift_letters_forward", "k": 3}, {"fn": "rotate_alphabet_by_seven", "k": 7}, {"fn": "scramble_with_offset", "k": 20}),
        ((("abz XY!",), "dec AB!"),),
    ),
    Family(
        "run_length", S, "$fn(s: str) -> str",
        """Compress `s` by runs of equal consecutive characters: each run becomes the text `$shape`,
        where c is the character and n the length of the run. Return the runs joined together.""",
        """
        def $fn(s):
            out = []
            i = 0
            while i < len(s):
                j = i
                while j < len(s) and s[j] == s[i]:
                    j += 1
                c, n = s[i], j - i
                out.append(f"$fmt")
                i = j
            return ''.join(out)
        """,
        lambda rng, v: [("",), ("a",)] + repeat(rng, 10, lambda r: ("".join(r.choice("abc") * r.randint(1, 4) for _ in range(r.randint(1, 6))),)),
        ({"fn": "squash_runs", "shape": "cn", "fmt": "{c}{n}"}, {"fn": "count_then_char", "shape": "nc", "fmt": "{n}{c}"},
         {"fn": "runs_with_star", "shape": "c*n", "fmt": "{c}*{n}"}),
        ((("aaabcc",), "a3b1c2"),),
    ),
    Family(
        "capitalize_long", S, "$fn(sentence: str) -> str",
        """`sentence` holds words separated by single spaces. Return it with every word of at least $k
        characters written with an upper-case first letter and lower-case rest, and every shorter word
        in lower case.""",
        """
        def $fn(sentence):
            return ' '.join(w[:1].upper() + w[1:].lower() if len(w) >= $k else w.lower() for w in sentence.split(' '))
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (" ".join(words(r, 1, 6, letters=string.ascii_letters)),)),
        ({"fn": "title_long_words", "k": 3}, {"fn": "headline_case", "k": 4}, {"fn": "emphasize_words", "k": 6}),
        ((("the QUICK fox is",), "The Quick Fox is"),),
    ),
    Family(
        "count_in_set", S, "$fn(s: str) -> int",
        """Return how many characters of `s` belong to the set "$chars", ignoring case.""",
        """
        def $fn(s):
            return sum(1 for ch in s.lower() if ch in "$chars")
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (text(r, 0, 40, string.ascii_letters + string.digits + " "),)),
        ({"fn": "count_rare_letters", "chars": "jqxz"}, {"fn": "count_hex_symbols", "chars": "0123456789abcdef"},
         {"fn": "count_liquid_letters", "chars": "lmnr"}),
        ((("Jazz Quiz",), 5),),
    ),
    Family(
        "longest_class_run", S, "$fn(s: str) -> int",
        """Return the length of the longest run of consecutive characters of `s` for which
        `ch.$pred()` is true, or 0 if there is none.""",
        """
        def $fn(s):
            best = cur = 0
            for ch in s:
                cur = cur + 1 if ch.$pred() else 0
                best = max(best, cur)
            return best
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (text(r, 0, 30, "aB3 Zx9Q1c"),)),
        ({"fn": "longest_digit_stretch", "pred": "isdigit"}, {"fn": "longest_shout", "pred": "isupper"},
         {"fn": "longest_letter_block", "pred": "isalpha"}),
        ((("ab123c4567",), 4),),
    ),
    Family(
        "interleave_chunks", S, "$fn(a: str, b: str) -> str",
        """Build a string by taking $k characters from `a`, then $k from `b`, then the next $k from `a`,
        and so on. When one string runs out, append the rest of the other.""",
        """
        def $fn(a, b):
            out = []
            i = 0
            while i < len(a) or i < len(b):
                out.append(a[i:i + $k])
                out.append(b[i:i + $k])
                i += $k
            return ''.join(out)
        """,
        lambda rng, v: [("", ""), ("abc", "")] + repeat(rng, 10, lambda r: (word(r, 0, 9), word(r, 0, 9, letters="0123456789"))),
        ({"fn": "zip_letters", "k": 1}, {"fn": "braid_pairs", "k": 2}, {"fn": "weave_triples", "k": 3}),
        ((("abc", "12345"), "a1b2c345"),),
    ),
    Family(
        "mask_tail", S, "$fn(secret: str) -> str",
        """Hide `secret` except for its last $k characters: every earlier character becomes '$ch'.
        A string of at most $k characters is returned unchanged.""",
        """
        def $fn(secret):
            if len(secret) <= $k:
                return secret
            return '$ch' * (len(secret) - $k) + secret[-$k:]
        """,
        lambda rng, v: [("",), ("ab",)] + repeat(rng, 10, lambda r: (word(r, 0, 16, letters=string.digits + "abc"),)),
        ({"fn": "mask_card_number", "k": 4, "ch": "#"}, {"fn": "redact_prefix", "k": 2, "ch": "*"}, {"fn": "hide_leading", "k": 3, "ch": "x"}),
        ((("123456789",), "#####6789"),),
    ),
    Family(
        "acronym_skip", S, "$fn(phrase: str) -> str",
        """Return the acronym of `phrase`: the upper-cased first letters of its words (split on
        whitespace), skipping the words $stops (compared in lower case).""",
        """
        def $fn(phrase):
            skip = $stopset
            return ''.join(w[0].upper() for w in phrase.split() if w.lower() not in skip)
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (" ".join(r.choice(["of", "and", "the", "a", "an", "to", "in", "on", "for"]) if r.random() < 0.4 else w for w in words(r, 1, 7, letters=string.ascii_letters)),)),
        ({"fn": "initials_without_fillers", "stops": "of, and, the", "stopset": "{'of', 'and', 'the'}"},
         {"fn": "short_name_for", "stops": "a, an, to", "stopset": "{'a', 'an', 'to'}"},
         {"fn": "abbreviate_title", "stops": "in, on, for", "stopset": "{'in', 'on', 'for'}"}),
        ((("Bank of the North and South",), "BNS"),),
    ),
    Family(
        "squeeze", S, "$fn(s: str) -> str",
        """Remove from `s` every character that repeats the character just before it ($rule),
        keeping the first of each group.""",
        """
        def $fn(s):
            out = []
            for ch in s:
                if out:
                    a, b = out[-1], ch
                    if $same:
                        continue
                out.append(ch)
            return ''.join(out)
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (text(r, 0, 25, "aAbB  c"),)),
        ({"fn": "collapse_repeats", "rule": "exactly the same character", "same": "a == b"},
         {"fn": "collapse_repeats_any_case", "rule": "the same letter in either case", "same": "a.lower() == b.lower()"},
         {"fn": "collapse_spaces", "rule": "only when both are spaces", "same": "a == b == ' '"}),
        ((("aaBBb  c",), "aBb c"),),
    ),
    Family(
        "most_common_char", S, "$fn(s: str) -> str",
        """Return the character that occurs most often in the non-empty string `s`. Among characters
        with the same count, return $tie.""",
        """
        def $fn(s):
            counts = {}
            for c in s:
                counts[c] = counts.get(c, 0) + 1
            return min(counts, key=lambda c: (-counts[c], $key))
        """,
        lambda rng, v: [("z",)] + repeat(rng, 11, lambda r: (word(r, 1, 14, letters="abcde"),)),
        ({"fn": "dominant_char_smallest", "tie": "the smallest one", "key": "c"},
         {"fn": "dominant_char_first", "tie": "the one that appears first in s", "key": "s.index(c)"},
         {"fn": "dominant_char_largest", "tie": "the largest one", "key": "-ord(c)"}),
        ((("babac",), "a"),),
    ),
    Family(
        "letter_quota", S, "$fn(s: str) -> bool",
        """Return True if no letter occurs more than $k times in `s`, ignoring case; characters
        that are not letters do not count.""",
        """
        def $fn(s):
            counts = {}
            for ch in s.lower():
                if ch.isalpha():
                    counts[ch] = counts.get(ch, 0) + 1
            return all(n <= $k for n in counts.values())
        """,
        lambda rng, v: [("",)] + repeat(rng, 11, lambda r: (text(r, 0, 3 * v["k"] + 4, "abcAB -"),)),
        ({"fn": "letters_all_distinct", "k": 1}, {"fn": "letters_at_most_twice", "k": 2}, {"fn": "letters_at_most_thrice", "k": 3}),
        ((("Dermatoglyphics",), True), (("Alpha",), False)),
    ),
]
