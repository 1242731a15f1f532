"""An online shop: customers place orders of products."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import Cand, SpecDomain, Table, attr, cat, date, fk, lookup, money, num, person, title
from envs.sql.domains.templates import Ctx, between, lit

ITEMS = {
    "Electronics": ("Headphones", "Speaker", "Drone", "Camera", "Charger", "Smartwatch"),
    "Kitchen": ("Kettle", "Blender", "Toaster", "Mug", "Skillet", "Knife Set"),
    "Garden": ("Planter", "Hose", "Pruner", "Bird Feeder", "Lantern"),
    "Toys": ("Puzzle", "Chess Set", "Kite", "Robot Kit", "Plush Bear"),
    "Sports": ("Yoga Mat", "Water Bottle", "Dumbbell", "Tennis Racket", "Backpack"),
    "Office": ("Notebook", "Desk Lamp", "Keyboard", "Monitor Stand", "Pen Set"),
    "Beauty": ("Serum", "Face Cream", "Hair Dryer", "Perfume"),
}
BRANDS = ("Acme", "Nordlys", "Kumo", "Vantage", "Pinecrest", "Solace", "Orbit", "Halden")


def product_name(r, row, db):
    return f"{r.choice(BRANDS)} {r.choice(W.ADJECTIVES)} {r.choice(ITEMS[row['category']])}"


DOMAIN = SpecDomain("online_retail", [
    Table("customers", "customer", 450, (
        title("name", person),
        cat("city", W.CITY_NAMES[:14], labels="cities", where="from {v}"),
        cat("loyalty_tier", ("Bronze", "Silver", "Gold", "Platinum"), (50, 30, 15, 5), where="in the {v} loyalty tier"),
        date("signup_date", "2019-01-01", "2024-06-30", where="who signed up {v}"),
        attr("email", lambda r, row, db: row["name"].lower().replace(" ", ".") + f"{row['customer_id']}@example.com"),
    )),
    Table("products", "product", 160, (
        cat("category", tuple(ITEMS), (3, 3, 2, 2, 2, 2, 1), labels="categories", where="in the {v} category"),
        title("name", product_name),
        attr("brand", lambda r, row, db: row["name"].split()[0], role="cat", where="made by {v}"),
        money("price", 4.99, 899.0, skew=2.5, where="priced {v}"),
        num("stock", 0, 500, where="with stock {v}"),
    )),
    Table("orders", "order", 1600, (
        fk("customer_id", "customers", where="placed by {v}", have="placed {n} orders"),
        date("order_date", "2022-01-01", "2024-12-31", where="placed {v}"),
        cat("status", ("delivered", "shipped", "processing", "cancelled", "returned"), (70, 10, 8, 7, 5), labels="statuses",
            where="with status {v}"),
        money("shipping_cost", 0.0, 35.0, skew=1.0, where="with a shipping cost {v}"),
    )),
    Table("order_items", "order item", 3900, (
        fk("order_id", "orders", where="in {v}", have="contain|contains {n} order items", empty=0.0),
        fk("product_id", "products", where="for {v}", have="appear|appears in {n} order items"),
        num("quantity", 1, 6, skew=2.5),
        lookup("unit_price", "product_id", "products", "price", role="attr"),
    )),
])


# ----- domain-specific questions: revenue is quantity times unit price ------------------------
REVENUE = "order_items.quantity * order_items.unit_price"
ITEMS_PRODUCTS = "order_items JOIN products ON order_items.product_id = products.product_id"


def revenue_by_category(cx: Ctx, r) -> Cand:
    category = cx.row(r, cx.by_name["products"])["category"]
    q = (f"What is the total revenue (quantity times unit price) from order items for products in the {category} "
         "category? Round to 2 decimal places.")
    sql = f"SELECT ROUND(SUM({REVENUE}), 2) FROM {ITEMS_PRODUCTS} WHERE products.category = {lit(category)}"
    return Cand(q, sql, "join", ("order_items", "products"), nonzero=True)


def top_revenue_products(cx: Ctx, r) -> Cand:
    k = r.choice((3, 5))
    q = (f"Which {k} products brought in the most revenue (quantity times unit price)? Give each name with its revenue "
         "rounded to 2 decimal places, highest first.")
    sql = (f"SELECT products.name, ROUND(SUM({REVENUE}), 2) FROM {ITEMS_PRODUCTS} GROUP BY products.product_id "
           f"ORDER BY SUM({REVENUE}) DESC LIMIT {k}")
    return Cand(q, sql, "order_limit", ("order_items", "products"), min_rows=k)


def big_spenders(cx: Ctx, r) -> Cand | None:
    city = cx.row(r, cx.by_name["customers"])["city"]
    body = ("FROM customers JOIN orders ON orders.customer_id = customers.customer_id "
            "JOIN order_items ON order_items.order_id = orders.order_id "
            f"WHERE customers.city = {lit(city)} GROUP BY customers.customer_id")
    totals = cx.col(f"SELECT SUM({REVENUE}) {body} ORDER BY 1 DESC")
    x = between(totals, r.randint(0, 5))
    if x is None:
        return None
    q = f"Which customers from {city} spent more than ${x:,} in total on order items (quantity times unit price)?"
    sql = f"SELECT customers.name {body} HAVING SUM({REVENUE}) > {x}"
    return Cand(q, sql, "group_having", ("customers", "orders", "order_items"))


DOMAIN.extra += [revenue_by_category, top_revenue_products, big_spenders]
