"""Generic question templates that work over any :class:`~.framework.Table` spec.

Each template draws its parameters with the given ``random.Random`` (values are read from real
rows, thresholds from the real distribution, so most answers are a handful of rows) and returns a
:class:`~.framework.Cand` or ``None`` when the spec has nothing it can use.  The domain keeps the
candidates that pass ``check_gold`` and fit the row limits.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from typing import Any

from envs.sql.domains.schema import Cand, Col, Table

R = random.Random


def lit(v: Any) -> str:
    """An SQL literal."""
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def both(a: str, b: str) -> str:
    """Two phrases about the same rows: 'from Lyon who signed up ...', 'whose x is 1 and whose y is 2'."""
    a = " ".join(a.split())
    last = a.split(" ")
    same = len(last) > 1 and b.split(" ")[0] in last[1:] and b.split(" ")[0] in ("whose", "with", "who", "that", "in")
    return f"{a} and {b}" if same else f"{a} {b}"


def ask_list(r: R, what: str, rest: str) -> str:
    form = r.choice(("List the {} of {}.", "What are the {} of {}?", "Show the {} of {}."))
    return form.format(what, rest)


def count_q(r: R, rest: str) -> str:
    return r.choice(("How many {} are there?", "Count the {}.")).format(rest)


def rounded(fn: str, col: str, c: Col) -> tuple[str, str]:
    """(SQL, question suffix) for an aggregate; averages and REAL sums are rounded to 2 places."""
    if fn == "AVG" or (fn == "SUM" and c.type == "REAL"):
        return f"ROUND({fn}({col}), 2)", " Round to 2 decimal places."
    return f"{fn}({col})", ""


def between(vals: list, k: int) -> float | None:
    """A round threshold strictly between ``vals[k]`` and ``vals[k + 1]``, or None."""
    if len(vals) <= k + 1 or vals[k] == vals[k + 1]:
        return None
    lo, hi = sorted((vals[k], vals[k + 1]))
    for x in (round((lo + hi) / 2), round((lo + hi) / 2, 1), round((lo + hi) / 2, 2)):
        if lo < x < hi:
            return x
    return None


class Ctx:
    def __init__(self, conn: sqlite3.Connection, tables: list[Table]):
        self.conn = conn
        self.tables = tables
        self.by_name = {t.name: t for t in tables}
        self.edges = [(t, c, self.by_name[c.ref]) for t in tables for c in t.of("fk")]
        self._n = {t.name: conn.execute(f"SELECT COUNT(*) FROM {t.name}").fetchone()[0] for t in tables}

    def col(self, sql: str) -> list:
        return [row[0] for row in self.conn.execute(sql)]

    def row(self, r: R, t: Table) -> dict:
        cur = self.conn.execute(f"SELECT * FROM {t.name} WHERE {t.key} = ?", (r.randint(1, self._n[t.name]),))
        return dict(zip([d[0] for d in cur.description], cur.fetchone()))

    def table(self, r: R, *roles: str, title: bool = False) -> Table | None:
        ok = [t for t in self.tables if all(t.of(x) for x in roles) and (t.title or not title)]
        return r.choice(ok) if ok else None

    def edge(self, r: R, test: Callable[[Table, Col, Table], bool]) -> tuple[Table, Col, Table] | None:
        ok = [e for e in self.edges if test(*e)]
        return r.choice(ok) if ok else None


def theirs(c: Table, f: Col, p: Table) -> str:
    """The children of a parent, said unambiguously: 'orders', or 'flights departing from them'
    when the child has several foreign keys to the parent's table."""
    if sum(x.ref == p.name for x in c.of("fk")) > 1:
        return f"{c.pl} {c.where(f, 'them')}"
    return c.pl


def _titled_parent(c: Table, f: Col, p: Table) -> bool:
    return p.title is not None


def _filter(r: R, t: Table, cx: Ctx, p: float = 0.5, exclude: Col | None = None) -> tuple[str, str]:
    """Maybe a category filter on ``t``: (SQL condition or '', phrase or '')."""
    cats = [c for c in t.of("cat") if c is not exclude]
    if not cats or r.random() >= p:
        return "", ""
    c = r.choice(cats)
    v = cx.row(r, t)[c.name]
    return f"{t.name}.{c.name} = {lit(v)}", t.where(c, c.show(v))


# ----- select --------------------------------------------------------------------------------
def s_cat_num(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat", "num", title=True)
    if not t:
        return None
    c, n, up = r.choice(t.of("cat")), r.choice(t.of("num")), r.random() < 0.5
    v = cx.row(r, t)[c.name]
    vals = cx.col(f"SELECT {n.name} FROM {t.name} WHERE {c.name} = {lit(v)} ORDER BY 1 {'DESC' if up else ''}")
    k = r.randint(1, 6)
    if len(vals) <= k:
        return None
    x, also = vals[k], r.random() < 0.4
    what = f"{t.title.labs} and {n.labs}" if also else t.title.labs
    rest = both(f"{t.pl} {t.where(c, c.show(v))}", t.where(n, n.cmp[0 if up else 1] + ' ' + n.show(x)))
    cols = f"{t.title.name}, {n.name}" if also else t.title.name
    sql = f"SELECT {cols} FROM {t.name} WHERE {c.name} = {lit(v)} AND {n.name} {'>' if up else '<'} {lit(x)}"
    return Cand(ask_list(r, what, rest), sql, "select", (t.name,))


def s_two_cats(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat", title=True)
    if not t or len(t.of("cat")) < 2:
        return None
    c1, c2 = r.sample(t.of("cat"), 2)
    row = cx.row(r, t)
    rest = both(f"{t.pl} {t.where(c1, c1.show(row[c1.name]))}", t.where(c2, c2.show(row[c2.name])))
    sql = f"SELECT {t.title.name} FROM {t.name} WHERE {c1.name} = {lit(row[c1.name])} AND {c2.name} = {lit(row[c2.name])}"
    return Cand(ask_list(r, t.title.labs, rest), sql, "select", (t.name,))


def s_lookup(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, title=True)
    cols = [c for c in t.cols if c.role in ("cat", "num", "date")] if t else []
    if not cols:
        return None
    c, row = r.choice(cols), cx.row(r, t)
    sql = f"SELECT {c.name} FROM {t.name} WHERE {t.title.name} = {lit(row[t.title.name])}"
    return Cand(f"What is the {c.lab} of {t.ref(row[t.title.name])}?", sql, "select", (t.name,))


def s_date(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "date", "cat", title=True)
    if not t:
        return None
    c, d, late = r.choice(t.of("cat")), r.choice(t.of("date")), r.random() < 0.5
    v = cx.row(r, t)[c.name]
    vals = cx.col(f"SELECT {d.name} FROM {t.name} WHERE {c.name} = {lit(v)} ORDER BY 1 {'DESC' if late else ''}")
    k = r.randint(1, 6)
    if len(vals) <= k:
        return None
    rest = both(f"{t.pl} {t.where(c, c.show(v))}", t.where(d, f"{'after' if late else 'before'} {vals[k]}"))
    sql = f"SELECT {t.title.name} FROM {t.name} WHERE {c.name} = {lit(v)} AND {d.name} {'>' if late else '<'} {lit(vals[k])}"
    return Cand(ask_list(r, t.title.labs, rest), sql, "select", (t.name,))


# ----- aggregate -----------------------------------------------------------------------------
def a_count(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat")
    if not t:
        return None
    c = r.choice(t.of("cat"))
    v = cx.row(r, t)[c.name]
    sql = f"SELECT COUNT(*) FROM {t.name} WHERE {c.name} = {lit(v)}"
    return Cand(count_q(r, f"{t.pl} {t.where(c, c.show(v))}"), sql, "aggregate", (t.name,), nonzero=True)


def a_count_year(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "date")
    if not t:
        return None
    d = r.choice(t.of("date"))
    year = cx.row(r, t)[d.name][:4]
    cond, phrase = _filter(r, t, cx)
    rest = both(f"{t.pl} {phrase}".strip(), t.where(d, f"in {year}"))
    sql = f"SELECT COUNT(*) FROM {t.name} WHERE strftime('%Y', {d.name}) = '{year}'" + (f" AND {cond}" if cond else "")
    return Cand(count_q(r, rest), sql, "aggregate", (t.name,), nonzero=True)


def a_stat(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num")
    if not t:
        return None
    n = r.choice(t.of("num"))
    fn = r.choice(("AVG", "SUM", "MAX", "MIN") if n.additive else ("AVG", "MAX", "MIN"))
    cond, phrase = _filter(r, t, cx, 0.8)
    expr, suffix = rounded(fn, n.name, n)
    word = {"AVG": "average", "SUM": "total", "MAX": "highest", "MIN": "lowest"}[fn]
    of = "among" if fn in ("MAX", "MIN") else "of"
    q = f"What is the {word} {n.lab} {of} {t.pl} {phrase}".strip() + "?" + suffix
    sql = f"SELECT {expr} FROM {t.name}" + (f" WHERE {cond}" if cond else "")
    return Cand(q, sql, "aggregate", (t.name,), nonzero=True)


def a_distinct(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat")
    if not t or len(t.of("cat")) < 2:
        return None
    c1, c2 = r.sample(t.of("cat"), 2)
    v = cx.row(r, t)[c2.name]
    q = f"How many different {c1.labs} are there among {t.pl} {t.where(c2, c2.show(v))}?"
    sql = f"SELECT COUNT(DISTINCT {c1.name}) FROM {t.name} WHERE {c2.name} = {lit(v)}"
    return Cand(q, sql, "aggregate", (t.name,), nonzero=True)


def a_count_num(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num")
    if not t:
        return None
    n, up = r.choice(t.of("num")), r.random() < 0.5
    x = round(cx.row(r, t)[n.name])
    if x == 0:
        return None
    sql = f"SELECT COUNT(*) FROM {t.name} WHERE {n.name} {'>' if up else '<'} {x}"
    rest = f"{t.pl} {t.where(n, n.cmp[0 if up else 1] + ' ' + n.show(x))}"
    return Cand(count_q(r, rest), sql, "aggregate", (t.name,), nonzero=True)


# ----- join ----------------------------------------------------------------------------------
def _on(c: Table, f: Col, p: Table) -> str:
    return f"{c.name} JOIN {p.name} ON {c.name}.{f.name} = {p.name}.{p.key}"


def _parent_of_random_child(cx: Ctx, r: R, c: Table, f: Col, p: Table) -> Any:
    pid = cx.row(r, c)[f.name]
    return cx.col(f"SELECT {p.title.name} FROM {p.name} WHERE {p.key} = {pid}")[0]


def j_child_titles(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: c.title is not None and p.title is not None)
    if not e:
        return None
    c, f, p = e
    pv = _parent_of_random_child(cx, r, c, f, p)
    sql = f"SELECT {c.name}.{c.title.name} FROM {_on(c, f, p)} WHERE {p.name}.{p.title.name} = {lit(pv)}"
    return Cand(ask_list(r, c.title.labs, f"{c.pl} {c.where(f, p.ref(pv))}"), sql, "join", (c.name, p.name))


def j_count_parent(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, _titled_parent)
    if not e:
        return None
    c, f, p = e
    pv = _parent_of_random_child(cx, r, c, f, p)
    sql = f"SELECT COUNT(*) FROM {_on(c, f, p)} WHERE {p.name}.{p.title.name} = {lit(pv)}"
    return Cand(count_q(r, f"{c.pl} {c.where(f, p.ref(pv))}"), sql, "join", (c.name, p.name), nonzero=True)


def j_count_parent_cat(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: bool(p.of("cat")))
    if not e:
        return None
    c, f, p = e
    cond, phrase = _filter(r, p, cx, 1.0)
    sql = f"SELECT COUNT(*) FROM {_on(c, f, p)} WHERE {cond}"
    return Cand(count_q(r, f"{c.pl} {c.where(f, f'{p.pl} {phrase}')}"), sql, "join", (c.name, p.name), nonzero=True)


def j_stat_parent(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: bool(c.of("num")) and p.title is not None)
    if not e:
        return None
    c, f, p = e
    n = r.choice(c.of("num"))
    fn = r.choice(("SUM", "AVG", "MAX") if n.additive else ("AVG", "MAX"))
    pv = _parent_of_random_child(cx, r, c, f, p)
    expr, suffix = rounded(fn, f"{c.name}.{n.name}", n)
    word = {"AVG": "average", "SUM": "total", "MAX": "highest"}[fn]
    q = f"What is the {word} {n.lab} of {c.pl} {c.where(f, p.ref(pv))}?" + suffix
    sql = f"SELECT {expr} FROM {_on(c, f, p)} WHERE {p.name}.{p.title.name} = {lit(pv)}"
    return Cand(q, sql, "join", (c.name, p.name), nonzero=True)


def j_parent_attr(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: c.title is not None and p.title is not None)
    if not e:
        return None
    c, f, p = e
    a = r.choice([p.title] + p.of("cat") + p.of("num"))
    cv = cx.row(r, c)[c.title.name]
    q = f"What is the {a.lab} of the {f.lab} of {c.ref(cv)}?"
    sql = f"SELECT {p.name}.{a.name} FROM {_on(c, f, p)} WHERE {c.name}.{c.title.name} = {lit(cv)}"
    return Cand(q, sql, "join", (c.name, p.name))


def j_two_hop(cx: Ctx, r: R) -> Cand | None:
    chains = [(g, gf, c, f, p) for g, gf, c in cx.edges for c2, f, p in cx.edges if c2 is c and p.title]
    if not chains:
        return None
    g, gf, c, f, p = r.choice(chains)
    pv = _parent_of_random_child(cx, r, c, f, p)
    rest = f"{g.pl} {g.where(gf, c.pl + ' ' + c.where(f, p.ref(pv)))}"
    sql = (f"SELECT COUNT(*) FROM {_on(g, gf, c)} JOIN {p.name} ON {c.name}.{f.name} = {p.name}.{p.key} "
           f"WHERE {p.name}.{p.title.name} = {lit(pv)}")
    return Cand(count_q(r, rest), sql, "join", (g.name, c.name, p.name), nonzero=True)


def j_bridge(cx: Ctx, r: R) -> Cand | None:
    """Through a table with two foreign keys: 'books with loans by the member X'."""
    pairs = [(g, f1, a, f2, b) for g, f1, a in cx.edges for g2, f2, b in cx.edges
             if g2 is g and f1 is not f2 and a.title and b.title and a is not b]
    if not pairs:
        return None
    g, f1, a, f2, b = r.choice(pairs)
    bv = _parent_of_random_child(cx, r, g, f2, b)
    if sum(x.ref == a.name for x in g.of("fk")) > 1:
        rest = f"{a.pl} that are the {f1.lab} of {g.pl} {g.where(f2, b.ref(bv))}"
    else:
        rest = f"{a.pl} with {g.pl} {g.where(f2, b.ref(bv))}"
    sql = (f"SELECT DISTINCT {a.name}.{a.title.name} FROM {_on(g, f1, a)} JOIN {b.name} ON {g.name}.{f2.name} = {b.name}.{b.key} "
           f"WHERE {b.name}.{b.title.name} = {lit(bv)}")
    return Cand(ask_list(r, f"different {a.title.labs}", rest), sql, "join", (g.name, a.name, b.name))


def j_pairs(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: c.title is not None and p.title is not None and bool(c.of("num")))
    if not e:
        return None
    c, f, p = e
    n = r.choice(c.of("num"))
    vals = cx.col(f"SELECT {n.name} FROM {c.name} ORDER BY 1 DESC")
    x = vals[r.randint(2, 8)]
    q = f"For {c.pl} {c.where(n, n.cmp[0] + ' ' + n.show(x))}, list the {c.title.lab} and the {p.title.lab} of the {f.lab}."
    sql = f"SELECT {c.name}.{c.title.name}, {p.name}.{p.title.name} FROM {_on(c, f, p)} WHERE {c.name}.{n.name} > {lit(x)}"
    return Cand(q, sql, "join", (c.name, p.name))
