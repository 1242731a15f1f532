"""An airline: flights between airports on aircraft, booked by passengers."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import Cand, SpecDomain, Table, attr, cat, date, fk, money, num, person, title, year
from envs.sql.domains.templates import Ctx, lit

AIRPORTS = [(f"{city} International", city, country) for city, country in W.CITIES[::2]]
MODELS = (("A320neo", "Airbus", 180), ("A321", "Airbus", 220), ("A350-900", "Airbus", 315), ("737 MAX 8", "Boeing", 178),
          ("787-9", "Boeing", 290), ("777-300ER", "Boeing", 396), ("E195-E2", "Embraer", 132), ("ATR 72-600", "ATR", 72))


def airport(i: int):
    return lambda r, row, db: AIRPORTS[row["airport_id"] - 1][i]


def model(i: int):
    """Field ``i`` of the aircraft's model (drawn first, in the ``model`` column)."""
    return lambda r, row, db: next(m[i] for m in MODELS if m[0] == row["model"])


def tail_number(r, row, db):
    return f"{r.choice('DFGHN')}-" + "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(4))


DOMAIN = SpecDomain("airline", [
    Table("airports", "airport", len(AIRPORTS), (
        title("name", airport(0)),
        attr("city", airport(1)),
        attr("country", airport(2), role="cat", labels="countries", where="in {v}"),
        num("runways", 1, 5, skew=2.0, additive=False, label="number of runways", labels="numbers of runways",
            where="with {v} runways", cmp=("more than", "fewer than")),
    )),
    Table("aircraft", "aircraft", 60, (
        title("tail_number", tail_number, label="tail number"),
        attr("model", lambda r, row, db: r.choice(MODELS)[0], role="cat", where="of model {v}"),
        attr("manufacturer", model(1), role="cat", where="built by {v}"),
        attr("seats", model(2), "INTEGER", role="num", additive=False, label="number of seats", labels="numbers of seats",
             where="with {v} seats", cmp=("more than", "fewer than")),
        year("year_built", 2005, 2024, label="year built", labels="years built", where="built {v}"),
    ), plural="aircraft"),
    Table("flights", "flight", 900, (
        title("flight_number", lambda r, row, db: f"TG{r.randint(100, 9999)}", label="flight number"),
        fk("origin_id", "airports", label="origin airport", where="departing from {v}", have="have|has {n} departing flights"),
        fk("destination_id", "airports", label="destination airport", where="arriving at {v}",
           have="have|has {n} arriving flights", differs="origin_id"),
        fk("aircraft_id", "aircraft", where="operated by {v}", have="operated|operated {n} flights"),
        date("departure_date", "2024-01-01", "2024-12-31", label="departure date", where="departing {v}"),
        num("distance_km", 300, 9500, skew=1.6, label="distance in km", labels="distances in km", where="covering {v} km",
            cmp=("more than", "less than")),
    )),
    Table("passengers", "passenger", 700, (
        title("name", person),
        cat("nationality", W.COUNTRIES, labels="nationalities", where="with nationality {v}"),
        cat("loyalty_level", ("Basic", "Blue", "Silver", "Gold"), (6, 3, 2, 1), label="loyalty level",
            where="at the {v} loyalty level"),
        year("birth_year", 1945, 2010, label="birth year", where="born {v}"),
    )),
    Table("bookings", "booking", 3300, (
        fk("flight_id", "flights", where="on {v}", have="have|has {n} bookings"),
        fk("passenger_id", "passengers", where="made by {v}", have="made {n} bookings"),
        cat("seat_class", ("Economy", "Premium Economy", "Business", "First"), (70, 15, 12, 3), label="seat class",
            labels="seat classes", where="in {v} class"),
        money("price", 49, 4200, skew=2.6, where="costing {v}", cmp=("more than", "less than")),
        date("booking_date", "2023-06-01", "2024-12-15", label="booking date", where="made {v}"),
    )),
])


# ----- domain-specific questions: routes join airports twice ---------------------------------
ROUTE = ("flights JOIN airports AS o ON flights.origin_id = o.airport_id "
         "JOIN airports AS d ON flights.destination_id = d.airport_id")


def _route(cx: Ctx, r) -> tuple[str, str]:
    f = cx.row(r, cx.by_name["flights"])
    names = dict(cx.conn.execute("SELECT airport_id, name FROM airports"))
    return names[f["origin_id"]], names[f["destination_id"]]


def route_count(cx: Ctx, r) -> Cand:
    a, b = _route(cx, r)
    sql = f"SELECT COUNT(*) FROM {ROUTE} WHERE o.name = {lit(a)} AND d.name = {lit(b)}"
    return Cand(f"How many flights go from {a} to {b}?", sql, "join", ("flights", "airports"), nonzero=True)


def route_flights(cx: Ctx, r) -> Cand:
    a, b = _route(cx, r)
    q = f"List the flight numbers and departure dates of flights from {a} to {b}, earliest first."
    sql = (f"SELECT flights.flight_number, flights.departure_date FROM {ROUTE} "
           f"WHERE o.name = {lit(a)} AND d.name = {lit(b)} ORDER BY flights.departure_date")
    return Cand(q, sql, "join", ("flights", "airports"))


def domestic(cx: Ctx, r) -> Cand:
    country = cx.row(r, cx.by_name["airports"])["country"]
    q = f"How many flights both depart from and arrive at airports in {country}?"
    sql = f"SELECT COUNT(*) FROM {ROUTE} WHERE o.country = {lit(country)} AND d.country = {lit(country)}"
    return Cand(q, sql, "join", ("flights", "airports"), nonzero=True)


DOMAIN.extra += [route_count, route_flights, domestic]
