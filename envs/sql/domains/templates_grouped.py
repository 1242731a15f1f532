"""Generic group-by/having, top-k and nested question templates; :data:`GENERIC` lists them all."""

from __future__ import annotations

from envs.sql.domains import templates as T
from envs.sql.domains.schema import Cand, article
from envs.sql.domains.templates import R, Ctx, _filter, _on, _titled_parent, ask_list, between, count_q, lit, theirs


# ----- group_having --------------------------------------------------------------------------
def g_parent_count(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, _titled_parent)
    if not e:
        return None
    c, f, p = e
    cond, phrase = _filter(r, p, cx, 0.6)
    where = f" WHERE {cond}" if cond else ""
    counts = cx.col(f"SELECT COUNT(*) FROM {_on(c, f, p)}{where} GROUP BY {c.name}.{f.name} ORDER BY 1 DESC")
    k = r.randint(1, 7)
    if len(counts) <= k or counts[k] == counts[0] or counts[k] < 2:
        return None
    q = f"Which {p.pl} {phrase} {p.have(f, c, f'more than {counts[k]}')}?".replace("  ", " ")
    sql = f"SELECT {p.name}.{p.title.name} FROM {_on(c, f, p)}{where} GROUP BY {p.name}.{p.key} HAVING COUNT(*) > {counts[k]}"
    return Cand(q, sql, "group_having", (c.name, p.name))


def g_cat_count(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat")
    if not t:
        return None
    c = r.choice(t.of("cat"))
    cond, phrase = _filter(r, t, cx, 0.4, exclude=c)
    where = f" WHERE {cond}" if cond else ""
    counts = cx.col(f"SELECT COUNT(*) FROM {t.name}{where} GROUP BY {c.name} ORDER BY 1 DESC")
    k = r.randint(0, 5)
    if len(counts) <= k + 1 or counts[k] == counts[k + 1] or counts[k + 1] < 2:
        return None
    x = counts[k + 1]
    group = f"{t.pl} {phrase}".strip()
    if r.random() < 0.5:
        q = f"Which {c.labs} have more than {x} {group}?"
        sql = f"SELECT {c.name} FROM {t.name}{where} GROUP BY {c.name} HAVING COUNT(*) > {x}"
    else:
        q = f"List each {c.lab} with more than {x} {group}, together with its number of {t.pl}."
        sql = f"SELECT {c.name}, COUNT(*) FROM {t.name}{where} GROUP BY {c.name} HAVING COUNT(*) > {x}"
    return Cand(q, sql, "group_having", (t.name,))


def g_cat_avg(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat", "num")
    if not t:
        return None
    c, n, up = r.choice(t.of("cat")), r.choice(t.of("num")), r.random() < 0.5
    avgs = cx.col(f"SELECT AVG({n.name}) FROM {t.name} GROUP BY {c.name} ORDER BY 1 {'DESC' if up else ''}")
    x = between(avgs, r.randint(0, 4))
    if x is None:
        return None
    q = f"Among {t.pl}, which {c.labs} have an average {n.lab} {'above' if up else 'below'} {n.show(x)}?"
    sql = f"SELECT {c.name} FROM {t.name} GROUP BY {c.name} HAVING AVG({n.name}) {'>' if up else '<'} {x}"
    return Cand(q, sql, "group_having", (t.name,))


def g_parent_sum(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: any(x.additive for x in c.of("num")) and p.title is not None)
    if not e:
        return None
    c, f, p = e
    n = r.choice([x for x in c.of("num") if x.additive])
    sums = cx.col(f"SELECT SUM({n.name}) FROM {c.name} GROUP BY {f.name} ORDER BY 1 DESC")
    x = between(sums, r.randint(0, 6))
    if x is None:
        return None
    q = f"Which {p.pl} have {theirs(c, f, p)} with a total {n.lab} above {n.show(x)}?"
    sql = f"SELECT {p.name}.{p.title.name} FROM {_on(c, f, p)} GROUP BY {p.name}.{p.key} HAVING SUM({c.name}.{n.name}) > {x}"
    return Cand(q, sql, "group_having", (c.name, p.name))


def g_parent_cat(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: bool(p.of("cat")))
    if not e:
        return None
    c, f, p = e
    pc = r.choice(p.of("cat"))
    counts = cx.col(f"SELECT COUNT(*) FROM {_on(c, f, p)} GROUP BY {p.name}.{pc.name} ORDER BY 1 DESC")
    k = r.randint(0, 4)
    if len(counts) <= k + 1 or counts[k] == counts[k + 1] or counts[k + 1] < 2:
        return None
    q = f"Counting {c.pl} by the {pc.lab} of their {f.lab}, which {pc.labs} have more than {counts[k + 1]}?"
    sql = f"SELECT {p.name}.{pc.name} FROM {_on(c, f, p)} GROUP BY {p.name}.{pc.name} HAVING COUNT(*) > {counts[k + 1]}"
    return Cand(q, sql, "group_having", (c.name, p.name))


# ----- order_limit ---------------------------------------------------------------------------
def o_top(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num", title=True)
    if not t:
        return None
    n, k, up = r.choice(t.of("num")), r.choice((1, 1, 3, 5)), r.random() < 0.6
    cond, phrase = _filter(r, t, cx, 0.5)
    where, word = (f" WHERE {cond}" if cond else ""), ("highest" if up else "lowest")
    if k == 1:
        q = f"Which {t.noun} {phrase} has the {word} {n.lab}?".replace("  ", " ")
        cols = t.title.name
    else:
        q = f"List the {t.title.labs} and {n.labs} of the {k} {t.pl} {phrase} with the {word} {n.lab}, {word} first."
        q, cols = q.replace("  ", " "), f"{t.title.name}, {n.name}"
    sql = f"SELECT {cols} FROM {t.name}{where} ORDER BY {n.name} {'DESC' if up else 'ASC'} LIMIT {k}"
    return Cand(q, sql, "order_limit", (t.name,), min_rows=k)


def o_cat_most(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "cat")
    if not t:
        return None
    c, most = r.choice(t.of("cat")), r.random() < 0.7
    if r.random() < 0.6:
        q = f"Which {c.lab} has the {'most' if most else 'fewest'} {t.pl}?"
        sql = f"SELECT {c.name} FROM {t.name} GROUP BY {c.name} ORDER BY COUNT(*) {'DESC' if most else 'ASC'} LIMIT 1"
    else:
        q = f"What are the 3 {c.labs} with the most {t.pl}? Give each with its number of {t.pl}, most first."
        sql = f"SELECT {c.name}, COUNT(*) FROM {t.name} GROUP BY {c.name} ORDER BY COUNT(*) DESC LIMIT 3"
    return Cand(q, sql, "order_limit", (t.name,), min_rows=3 if "LIMIT 3" in sql else 1)


def o_parent_most(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, _titled_parent)
    if not e:
        return None
    c, f, p = e
    cond, phrase = _filter(r, p, cx, 0.5)
    where = f" WHERE {cond}" if cond else ""
    q = f"Which {p.noun} {phrase} {p.have(f, c, 'the most', singular=True)}?".replace("  ", " ")
    sql = f"SELECT {p.name}.{p.title.name} FROM {_on(c, f, p)}{where} GROUP BY {p.name}.{p.key} ORDER BY COUNT(*) DESC LIMIT 1"
    return Cand(q, sql, "order_limit", (c.name, p.name))


def o_parent_sum(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: any(x.additive for x in c.of("num")) and p.title is not None)
    if not e:
        return None
    c, f, p = e
    n, k = r.choice([x for x in c.of("num") if x.additive]), r.choice((3, 5))
    expr, suffix = T.rounded("SUM", f"{c.name}.{n.name}", n)
    over = f"their {c.pl}" if theirs(c, f, p) == c.pl else theirs(c, f, p)
    q = (f"Which {k} {p.pl} have the highest total {n.lab} over {over}? "
         f"Give each {p.title.lab} with that total, highest first.{suffix}")
    sql = (f"SELECT {p.name}.{p.title.name}, {expr} FROM {_on(c, f, p)} GROUP BY {p.name}.{p.key} "
           f"ORDER BY SUM({c.name}.{n.name}) DESC LIMIT {k}")
    return Cand(q, sql, "order_limit", (c.name, p.name), min_rows=k)


def o_latest(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "date", title=True)
    if not t:
        return None
    d, late = r.choice(t.of("date")), r.random() < 0.5
    cond, phrase = _filter(r, t, cx, 0.7)
    where = f" WHERE {cond}" if cond else ""
    q = f"Which {t.noun} {phrase} has the {'latest' if late else 'earliest'} {d.lab}?".replace("  ", " ")
    sql = f"SELECT {t.title.name} FROM {t.name}{where} ORDER BY {d.name} {'DESC' if late else 'ASC'} LIMIT 1"
    return Cand(q, sql, "order_limit", (t.name,))


# ----- nested --------------------------------------------------------------------------------
def n_above_avg(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num", "cat", title=True)
    if not t:
        return None
    n = r.choice(t.of("num"))
    cond, phrase = _filter(r, t, cx, 1.0)
    times, factor = r.choice((("above", 1), ("more than 1.5 times", 1.5), ("more than twice", 2)))
    q = ask_list(r, t.title.labs, f"{t.pl} {phrase} whose {n.lab} is {times} the average {n.lab} of all {t.pl}")
    scale = "" if factor == 1 else f"{factor} * "
    sql = f"SELECT {t.title.name} FROM {t.name} WHERE {cond} AND {n.name} > {scale}(SELECT AVG({n.name}) FROM {t.name})"
    return Cand(q, sql, "nested", (t.name,))


def n_max_in_group(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num", "cat", title=True)
    if not t:
        return None
    n, fn = r.choice(t.of("num")), r.choice(("MAX", "MIN"))
    cond, phrase = _filter(r, t, cx, 1.0)
    q = (f"Which {t.pl} have the {'highest' if fn == 'MAX' else 'lowest'} {n.lab} among all {t.pl} {phrase}? "
         f"Give the {t.title.lab} and the {n.lab}.")
    sub = f"(SELECT {fn}({n.name}) FROM {t.name} WHERE {cond})"
    sql = f"SELECT {t.title.name}, {n.name} FROM {t.name} WHERE {cond} AND {n.name} = {sub}"
    return Cand(q, sql, "nested", (t.name,), max_rows=3)


def n_no_children(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, _titled_parent)
    if not e:
        return None
    c, f, p = e
    cond, phrase = _filter(r, p, cx, 0.6)
    q = f"Which {p.pl} {phrase} {p.have(f, c, 'no')}?".replace("  ", " ")
    where = cond + " AND " if cond else ""
    sql = f"SELECT {p.title.name} FROM {p.name} WHERE {where}{p.key} NOT IN (SELECT {f.name} FROM {c.name})"
    return Cand(q, sql, "nested", (p.name, c.name))


def n_count_above_avg(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num")
    if not t:
        return None
    n = r.choice(t.of("num"))
    cond, phrase = _filter(r, t, cx, 0.6)
    q = count_q(r, f"{t.pl} {phrase} with {article(n.lab)} above the average {n.lab} of all {t.pl}".replace("  ", " "))
    sql = f"SELECT COUNT(*) FROM {t.name} WHERE {cond + ' AND ' if cond else ''}{n.name} > (SELECT AVG({n.name}) FROM {t.name})"
    return Cand(q, sql, "nested", (t.name,), nonzero=True)


def n_in_sub(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: p.title is not None and bool(c.of("num")))
    if not e:
        return None
    c, f, p = e
    n = r.choice(c.of("num"))
    cond, phrase = _filter(r, c, cx, 0.5)
    vals = cx.col(f"SELECT {n.name} FROM {c.name}{' WHERE ' + cond if cond else ''} ORDER BY 1 DESC")
    k = r.randint(1, 8)
    if len(vals) <= k:
        return None
    what = f"{theirs(c, f, p).replace(c.pl, c.noun, 1)} {phrase}".strip()
    q = f"Which {p.pl} have at least one {T.both(what, c.where(n, n.cmp[0] + ' ' + n.show(vals[k])))}?"
    sql = (f"SELECT {p.title.name} FROM {p.name} WHERE {p.key} IN (SELECT {f.name} FROM {c.name} "
           f"WHERE {cond + ' AND ' if cond else ''}{n.name} > {lit(vals[k])})")
    return Cand(q, sql, "nested", (p.name, c.name))


def n_beats_row(cx: Ctx, r: R) -> Cand | None:
    t = cx.table(r, "num", title=True)
    if not t:
        return None
    n, up = r.choice(t.of("num")), r.random() < 0.6
    names = cx.col(f"SELECT {t.title.name} FROM {t.name} ORDER BY {n.name} {'DESC' if up else 'ASC'} LIMIT 10")
    tv = names[r.randint(2, 8)]
    q = f"Which {t.pl} have {'a higher' if up else 'a lower'} {n.lab} than {t.ref(tv)}?"
    sub = f"(SELECT {n.name} FROM {t.name} WHERE {t.title.name} = {lit(tv)})"
    sql = f"SELECT {t.title.name} FROM {t.name} WHERE {n.name} {'>' if up else '<'} {sub}"
    return Cand(q, sql, "nested", (t.name,))


def n_busier_than_avg(cx: Ctx, r: R) -> Cand | None:
    e = cx.edge(r, lambda c, f, p: p.title is not None and bool(p.of("cat")))
    if not e:
        return None
    c, f, p = e
    cond, phrase = _filter(r, p, cx, 1.0)
    q = f"Which {p.pl} {phrase} {p.have(f, c, 'more than the average number of')} per {p.noun}?"
    head = f"SELECT {p.name}.{p.title.name} FROM {_on(c, f, p)} WHERE {cond} GROUP BY {p.name}.{p.key} HAVING COUNT(*) > "
    sql = head + f"(SELECT COUNT(*) * 1.0 / (SELECT COUNT(*) FROM {p.name}) FROM {c.name})"
    alt = head + f"(SELECT AVG(n) FROM (SELECT COUNT(*) AS n FROM {c.name} GROUP BY {f.name}))"
    return Cand(q, sql, "nested", (c.name, p.name), alts=(alt,))


GENERIC = [
    T.s_cat_num, T.s_two_cats, T.s_lookup, T.s_date,
    T.a_count, T.a_count_year, T.a_stat, T.a_distinct, T.a_count_num,
    T.j_child_titles, T.j_count_parent, T.j_count_parent_cat, T.j_stat_parent, T.j_parent_attr, T.j_two_hop,
    T.j_bridge, T.j_pairs,
    g_parent_count, g_cat_count, g_cat_avg, g_parent_sum, g_parent_cat,
    o_top, o_cat_most, o_parent_most, o_parent_sum, o_latest,
    n_above_avg, n_max_in_group, n_no_children, n_count_above_avg, n_in_sub, n_beats_row, n_busier_than_avg,
]
