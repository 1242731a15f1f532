"""A space observatory (test domain): astronomers observe celestial objects with telescopes."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, attr, cat, date, fk, num, person, title, year

SITES = ("Mauna Kea", "Atacama", "La Palma", "Siding Spring", "Kitt Peak", "Sutherland")
CONSTELLATIONS = ("Orion", "Cygnus", "Lyra", "Andromeda", "Cassiopeia", "Scorpius", "Sagittarius", "Ursa Major", "Perseus",
                  "Centaurus", "Taurus", "Virgo")
OBJECT_TYPES = ("Star", "Galaxy", "Nebula", "Star Cluster", "Exoplanet", "Quasar")
CATALOG = {"Star": "HD", "Galaxy": "NGC", "Nebula": "IC", "Star Cluster": "M", "Exoplanet": "KOI", "Quasar": "QSO"}
INSTITUTIONS = ("Leiden Observatory", "Caltech", "ESO", "Max Planck Institute", "University of Tokyo", "IAC Tenerife",
                "Australian National University")


def designation(r, row, db):
    return f"{CATALOG[row['object_type']]} {r.randint(10, 99999)}"


DISTANCES = {"Star": (4, 3_000), "Exoplanet": (4, 3_000), "Nebula": (400, 30_000), "Star Cluster": (300, 60_000),
             "Galaxy": (2_000_000, 500_000_000), "Quasar": (1_000_000_000, 12_000_000_000)}


def distance(r, row, db):
    lo, hi = DISTANCES[row["object_type"]]
    return round(lo * (hi / lo) ** r.random())


def telescope_name(r, row, db):
    base = r.choice(("Helios", "Vega", "Kepler", "Orion", "Galileo", "Hubble", "Tycho", "Herschel"))
    return f"{base} {r.choice('ABCDEFGH')}{r.randint(1, 9)}"


DOMAIN = SpecDomain("space_observatory", [
    Table("telescopes", "telescope", 24, (
        title("name", telescope_name),
        cat("site", SITES, where="at {v}"),
        num("aperture_m", 0.5, 10.4, digits=1, skew=1.6, additive=False, label="aperture in meters", labels="apertures",
            where="with an aperture {v} meters", cmp=("above", "below")),
        year("commissioned_year", 1975, 2022, label="commissioning year", where="commissioned {v}"),
        cat("wavelength", ("Optical", "Infrared", "Radio", "Ultraviolet"), (5, 3, 2, 1), label="wavelength band",
            where="observing in the {v} band"),
    )),
    Table("astronomers", "astronomer", 110, (
        title("name", person),
        cat("institution", INSTITUTIONS, where="from {v}"),
        attr("country", lambda r, row, db: r.choice(W.COUNTRIES), role="cat", labels="countries", where="based in {v}"),
        year("career_start", 1985, 2022, label="career start year", where="who started their career {v}"),
    )),
    Table("celestial_objects", "celestial object", 600, (
        cat("object_type", OBJECT_TYPES, (5, 3, 2, 2, 3, 1), label="object type", where="of type {v}"),
        title("designation", designation),
        cat("constellation", CONSTELLATIONS, where="in the constellation {v}"),
        num("magnitude", -1.5, 22.0, digits=2, additive=False, label="apparent magnitude", labels="apparent magnitudes",
            where="with an apparent magnitude {v}"),
        attr("distance_ly", distance, "INTEGER", role="num", additive=False, label="distance in light years",
             labels="distances in light years", where="lying {v} light years away", cmp=("more than", "less than"), fmt="{:,}"),
    )),
    Table("observations", "observation", 3600, (
        fk("telescope_id", "telescopes", where="made with {v}", have="have|has been used for {n} observations", empty=0.0),
        fk("astronomer_id", "astronomers", where="made by {v}", have="made {n} observations"),
        fk("object_id", "celestial_objects", label="object", where="of {v}", have="have|has {n} observations", empty=0.15),
        date("observation_date", "2021-01-01", "2024-12-31", label="observation date", where="made {v}"),
        num("exposure_s", 10, 7200, skew=2.0, label="exposure time in seconds", labels="exposure times",
            where="with an exposure time {v} seconds", cmp=("above", "below")),
        num("seeing_arcsec", 0.3, 3.0, digits=2, skew=1.5, additive=False, label="seeing in arcseconds",
            labels="seeing values", where="with seeing {v} arcseconds", cmp=("above", "below")),
    )),
], per_kind=18)
