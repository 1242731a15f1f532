"""A wine cellar guide (test domain): vineyards make wines from grape varieties, rated by critics."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, attr, cat, date, fk, money, num, person, title, year

REGIONS = {"Bordeaux": "France", "Burgundy": "France", "Rioja": "Spain", "Douro": "Portugal", "Tuscany": "Italy",
           "Piedmont": "Italy", "Mosel": "Germany", "Napa Valley": "United States", "Barossa": "Australia",
           "Mendoza": "Argentina", "Stellenbosch": "South Africa", "Marlborough": "New Zealand"}
VARIETIES = (("Cabernet Sauvignon", "Red"), ("Merlot", "Red"), ("Pinot Noir", "Red"), ("Syrah", "Red"), ("Tempranillo", "Red"),
             ("Nebbiolo", "Red"), ("Malbec", "Red"), ("Sangiovese", "Red"), ("Chardonnay", "White"), ("Riesling", "White"),
             ("Sauvignon Blanc", "White"), ("Chenin Blanc", "White"), ("Grenache", "Rose"), ("Touriga Nacional", "Red"))
ESTATES = ("Chateau", "Domaine", "Bodega", "Quinta", "Tenuta", "Weingut", "Estate")
PUBLICATIONS = ("Cellar Notes", "Vine Review", "The Decanter Post", "Terroir Weekly", "Grape Journal")


def vineyard_name(r, row, db):
    return f"{r.choice(ESTATES)} {r.choice(W.LAST_NAMES)} {r.choice(('', 'Hills', 'Valley', 'Ridge', 'Creek'))}".strip()


def wine_name(r, row, db):
    vineyard = db["vineyards"][row["vineyard_id"] - 1]["name"].split()[1]
    return f"{vineyard} {r.choice(W.ADJECTIVES)} {VARIETIES[row['variety_id'] - 1][0]} {row['vintage']}"


DOMAIN = SpecDomain("winery_guide", [
    Table("vineyards", "vineyard", 80, (
        title("name", vineyard_name),
        cat("region", tuple(REGIONS), where="in {v}"),
        attr("country", lambda r, row, db: REGIONS[row["region"]], role="cat", labels="countries", where="located in {v}"),
        num("hectares", 2, 180, skew=1.8, label="size in hectares", labels="sizes in hectares", where="covering {v} hectares",
            cmp=("more than", "less than")),
        year("established_year", 1750, 2015, label="founding year", where="founded {v}"),
    )),
    Table("grape_varieties", "grape variety", len(VARIETIES), (
        title("name", lambda r, row, db: VARIETIES[row["variety_id"] - 1][0]),
        attr("color", lambda r, row, db: VARIETIES[row["variety_id"] - 1][1], role="cat", where="of color {v}"),
    ), plural="grape varieties", pk="variety_id"),
    Table("wines", "wine", 900, (
        fk("vineyard_id", "vineyards", where="from {v}", have="produce|produces {n} wines", empty=0.03),
        fk("variety_id", "grape_varieties", label="grape variety", where="made from {v}", have="are|is used in {n} wines",
           empty=0.0),
        year("vintage", 1995, 2022, where="of vintage {v}"),
        title("name", wine_name),
        cat("style", ("Still", "Sparkling", "Dessert", "Fortified"), (12, 3, 2, 1), where="in the {v} style"),
        money("price", 9, 650, skew=2.8, additive=False, where="priced {v}"),
        num("alcohol_pct", 11.0, 15.5, digits=1, additive=False, label="alcohol percentage", labels="alcohol percentages",
            where="with an alcohol percentage {v}"),
    )),
    Table("critics", "critic", 40, (
        title("name", person),
        cat("publication", PUBLICATIONS, where="writing for {v}"),
        attr("home_country", lambda r, row, db: r.choice(W.COUNTRIES), role="cat", label="home country",
             labels="home countries", where="from {v}"),
    )),
    Table("tastings", "tasting", 3200, (
        fk("wine_id", "wines", where="of {v}", have="have|has {n} tastings", empty=0.1),
        fk("critic_id", "critics", where="by {v}", have="did|did {n} tastings", empty=0.0),
        date("tasting_date", "2020-01-01", "2024-12-31", label="tasting date", where="held {v}"),
        num("score", 72, 100, skew=0.8, additive=False, where="with a score {v}"),
    )),
])
