"""A public library: authors write books that members borrow."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, cat, date, date_after, fk, money, num, person, title, year

GENRES = ("Fiction", "Mystery", "Science Fiction", "Fantasy", "Biography", "History", "Poetry", "Romance", "Science")
OPENERS = ("The", "A", "Beyond the", "Under the", "Letters from the", "Return of the", "Night of the", "Songs of the")
NOUNS = ("Lighthouse", "Orchard", "River", "Winter", "Cartographer", "Garden", "Storm", "Archive", "Harbor", "Glass House",
         "Mountain", "Clockmaker", "Forest", "Island", "Silence", "Lantern", "Frontier", "Observatory", "Tide", "Comet")


def book_title(r, row, db):
    return f"{r.choice(OPENERS)} {r.choice(W.ADJECTIVES)} {r.choice(NOUNS)}"


DOMAIN = SpecDomain("library", [
    Table("authors", "author", 140, (
        title("name", person),
        cat("country", W.COUNTRIES, labels="countries", where="from {v}"),
        year("birth_year", 1920, 1995, label="birth year", where="born {v}"),
    )),
    Table("books", "book", 700, (
        title("title", book_title),
        fk("author_id", "authors", where="written by {v}", have="wrote {n} books"),
        cat("genre", GENRES, (5, 4, 3, 3, 2, 2, 1, 3, 2), where="in the {v} genre"),
        year("publication_year", 1960, 2024, label="publication year", where="published {v}"),
        num("pages", 90, 950, skew=1.6, label="page count", where="with a page count {v}"),
        cat("language", ("English", "French", "Spanish", "German", "Italian"), (10, 3, 3, 2, 1), where="written in {v}"),
    ), quote=True),
    Table("members", "member", 520, (
        title("name", person),
        cat("city", W.CITY_NAMES[14:24], labels="cities", where="living in {v}"),
        cat("membership_type", ("Standard", "Student", "Senior", "Family"), (6, 3, 2, 2), label="membership type",
            where="with a {v} membership"),
        date("join_date", "2015-01-01", "2024-08-31", label="join date", where="who joined {v}"),
    )),
    Table("loans", "loan", 3800, (
        fk("book_id", "books", where="of {v}", have="have|has {n} loans"),
        fk("member_id", "members", where="by {v}", have="made {n} loans"),
        date("loan_date", "2021-01-01", "2024-12-20", label="loan date", where="made {v}"),
        date_after("due_date", "loan_date", 14, 28, role="attr"),
        money("late_fee", 0.0, 12.0, skew=4.0, label="late fee", where="with a late fee {v}"),
    )),
])
