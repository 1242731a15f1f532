"""A real-estate agency: properties in neighborhoods, sold by agents."""

from __future__ import annotations

from envs.sql.domains.framework import SpecDomain, Table, address, cat, date, fk, lookup, money, num, person, title, year

HOODS = ("Old Town", "Riverside", "Hillcrest", "Harbor View", "Green Park", "Northgate", "Westbrook", "Southfield",
         "Maple Heights", "Lakeside", "University District", "Market Square", "Eastwood", "Cedar Grove")
AGENCIES = ("Keystone Realty", "Bluebird Homes", "Summit Property", "Urban Nest", "Harbor Estates")

DOMAIN = SpecDomain("real_estate", [
    Table("neighborhoods", "neighborhood", len(HOODS), (
        title("name", lambda r, row, db: HOODS[row["neighborhood_id"] - 1]),
        cat("city", ("Denver", "Austin", "Seattle"), labels="cities", where="in {v}"),
        money("median_income", 38_000, 160_000, skew=1.0, digits=0, label="median income", where="with a median income {v}"),
    )),
    Table("agents", "agent", 70, (
        title("name", person),
        cat("agency", AGENCIES, labels="agencies", where="working for {v}"),
        year("license_year", 1995, 2023, label="license year", where="licensed {v}"),
    )),
    Table("properties", "property", 1500, (
        title("address", address),
        fk("neighborhood_id", "neighborhoods", where="in {v}", have="have|has {n} properties", empty=0.0),
        cat("property_type", ("Apartment", "House", "Townhouse", "Condo", "Studio"), (5, 4, 2, 3, 1), label="property type",
            where="of type {v}"),
        num("bedrooms", 0, 6, skew=1.4, additive=False, label="number of bedrooms", labels="numbers of bedrooms",
            where="with {v} bedrooms", cmp=("more than", "fewer than")),
        num("area_sqm", 25, 420, skew=1.8, label="floor area in square meters", labels="floor areas",
            where="with a floor area {v} square meters", cmp=("above", "below")),
        year("year_built", 1890, 2024, label="year built", labels="years built", where="built {v}"),
        money("list_price", 90_000, 2_400_000, skew=2.2, digits=0, label="list price", where="listed {v}",
              cmp=("above", "below")),
    ), plural="properties"),
    Table("sales", "sale", 1100, (
        fk("property_id", "properties", where="of {v}", have="have|has been sold {n} times", empty=0.3),
        fk("agent_id", "agents", where="handled by {v}", have="handled {n} sales"),
        date("sale_date", "2018-01-01", "2024-12-31", label="sale date", where="closed {v}"),
        lookup("sale_price", "property_id", "properties", "list_price", scale=(0.88, 1.08), label="sale price", fmt="${:,.2f}",
               where="with a sale price {v}"),
        num("commission_rate", 1.5, 3.5, digits=2, additive=False, label="commission rate in percent",
            labels="commission rates", where="with a commission rate {v} percent"),
    )),
])
