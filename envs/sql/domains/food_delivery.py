"""A food-delivery platform: restaurants with menus, couriers delivering customer orders."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, attr, cat, date, fk, money, num, person, title

CUISINES = ("Italian", "Japanese", "Mexican", "Indian", "Thai", "Lebanese", "American", "Vietnamese", "Greek")
DISHES = {
    "Italian": ("Margherita Pizza", "Lasagna", "Risotto", "Tiramisu", "Carbonara"),
    "Japanese": ("Ramen", "Sushi Platter", "Katsu Curry", "Gyoza", "Mochi"),
    "Mexican": ("Burrito", "Tacos al Pastor", "Quesadilla", "Churros", "Nachos"),
    "Indian": ("Butter Chicken", "Dal Makhani", "Biryani", "Samosa", "Gulab Jamun"),
    "Thai": ("Pad Thai", "Green Curry", "Tom Yum", "Mango Sticky Rice", "Spring Rolls"),
    "Lebanese": ("Falafel Wrap", "Shawarma Plate", "Hummus", "Baklava", "Fattoush"),
    "American": ("Cheeseburger", "Buffalo Wings", "Mac and Cheese", "Brownie", "Club Sandwich"),
    "Vietnamese": ("Pho", "Banh Mi", "Bun Cha", "Fresh Rolls", "Che"),
    "Greek": ("Gyro", "Moussaka", "Souvlaki", "Spanakopita", "Greek Salad"),
}
PLACES = ("Kitchen", "House", "Corner", "Table", "Garden", "Express", "Bistro", "Canteen")


def restaurant_name(r, row, db):
    return f"{r.choice(W.ADJECTIVES)} {row['cuisine']} {r.choice(PLACES)}"


DOMAIN = SpecDomain("food_delivery", [
    Table("restaurants", "restaurant", 90, (
        cat("cuisine", CUISINES, where="serving {v} food"),
        title("name", restaurant_name),
        cat("city", W.CITY_NAMES[:6], labels="cities", where="in {v}"),
        num("rating", 2.5, 5.0, digits=1, skew=0.6, additive=False, where="rated {v}"),
    )),
    Table("menu_items", "menu item", 700, (
        fk("restaurant_id", "restaurants", where="offered by {v}", have="offer|offers {n} menu items", empty=0.0),
        attr("dish", lambda r, row, db: r.choice(DISHES[db["restaurants"][row["restaurant_id"] - 1]["cuisine"]]), role="cat",
             labels="dishes", where="called {v}"),
        money("price", 3.5, 38.0, skew=1.3, additive=False, where="priced {v}"),
        num("calories", 120, 1400, skew=1.2, additive=False, label="calorie count", where="with {v} calories",
            cmp=("more than", "fewer than")),
        attr("is_vegetarian", lambda r, row, db: int(r.random() < 0.3), "INTEGER"),
    )),
    Table("couriers", "courier", 120, (
        title("name", person),
        cat("vehicle", ("Bicycle", "E-bike", "Scooter", "Car"), (3, 4, 3, 1)),
        date("hire_date", "2019-03-01", "2024-10-31", label="hire date", where="hired {v}"),
    )),
    Table("deliveries", "delivery", 3400, (
        fk("restaurant_id", "restaurants", where="from {v}", have="have|has {n} deliveries"),
        fk("courier_id", "couriers", where="made by {v}", have="made {n} deliveries"),
        date("delivery_date", "2023-01-01", "2024-12-31", label="delivery date", where="made {v}"),
        money("order_total", 8.0, 160.0, skew=1.8, label="order amount", where="with an order amount {v}"),
        money("tip", 0.0, 15.0, skew=2.5, where="with a tip {v}"),
        num("distance_km", 0.3, 14.0, digits=1, skew=1.5, label="distance in km", labels="distances in km",
            where="covering {v} km", cmp=("more than", "less than")),
    ), plural="deliveries"),
])
