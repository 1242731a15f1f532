"""Built-in word lists shared by the generated domains (no network, no Faker)."""

from __future__ import annotations

FIRST_NAMES = (
    "Aarav Abigail Adrian Aisha Alejandro Alice Amara Amelia Andre Anna Arjun Astrid Beatriz Benjamin "
    "Bianca Boris Camila Carlos Chen Chloe Clara Daniel Dmitri Elena Elif Emma Ethan Fatima Felix Freya "
    "Gabriel Grace Hana Hannah Hugo Ibrahim Ines Isaac Ivan Jade James Javier Julia Kai Kenji Lara Leila "
    "Leo Liam Lucas Lucia Mai Marco Maria Mateo Maya Mei Mohammed Nadia Naomi Nikolai Noah Nora Oliver "
    "Olga Omar Oscar Paula Priya Rafael Rosa Ruth Samuel Sara Sofia Stefan Tariq Theo Tomas Valentina "
    "Victor Wei Yara Yusuf Zara Zoe"
).split()

LAST_NAMES = (
    "Abbott Adams Ahmed Alvarez Andersen Bauer Bennett Bianchi Brooks Campbell Castillo Chen Costa "
    "Dubois Duarte Edwards Eriksson Fischer Flores Garcia Gonzalez Grant Gupta Haas Hansen Hughes "
    "Ibrahim Ivanova Jensen Johnson Kaur Khan Kim Kowalski Kruger Lambert Larsen Laurent Lee Lopez "
    "Marsh Martin Meyer Moreau Morris Nakamura Nguyen Novak Okafor Olsen Ortiz Park Patel Perez Petrov "
    "Quinn Ramos Reyes Rossi Russo Santos Sato Schmidt Silva Singh Sokolov Suzuki Tanaka Torres Usman "
    "Varga Vogel Walsh Weber Wong Yamamoto Yilmaz Young Zhang Zimmer"
).split()

# (city, country)
CITIES = (
    ("Lyon", "France"), ("Paris", "France"), ("Marseille", "France"), ("Berlin", "Germany"),
    ("Hamburg", "Germany"), ("Munich", "Germany"), ("Madrid", "Spain"), ("Seville", "Spain"),
    ("Valencia", "Spain"), ("Rome", "Italy"), ("Milan", "Italy"), ("Turin", "Italy"),
    ("Lisbon", "Portugal"), ("Porto", "Portugal"), ("Amsterdam", "Netherlands"), ("Utrecht", "Netherlands"),
    ("Vienna", "Austria"), ("Zurich", "Switzerland"), ("Warsaw", "Poland"), ("Krakow", "Poland"),
    ("Prague", "Czechia"), ("Dublin", "Ireland"), ("Leeds", "United Kingdom"), ("Bristol", "United Kingdom"),
    ("Toronto", "Canada"), ("Montreal", "Canada"), ("Chicago", "United States"), ("Denver", "United States"),
    ("Austin", "United States"), ("Seattle", "United States"), ("Osaka", "Japan"), ("Nagoya", "Japan"),
    ("Mumbai", "India"), ("Pune", "India"), ("Sydney", "Australia"), ("Perth", "Australia"),
)
CITY_NAMES = tuple(c for c, _ in CITIES)
COUNTRIES = tuple(sorted({k for _, k in CITIES}))

STREETS = (
    "Oak", "Maple", "Cedar", "Elm", "Willow", "Birch", "Pine", "Chestnut", "Linden", "Harbor", "Mill",
    "River", "Station", "Church", "Market", "Park", "Garden", "Hill", "Lake", "Meadow", "Bridge", "Orchard",
)
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Way", "Boulevard")

ADJECTIVES = (
    "Amber", "Arctic", "Blue", "Bright", "Bold", "Calm", "Classic", "Coastal", "Crimson", "Golden", "Grand",
    "Green", "Hidden", "Iron", "Little", "Lucky", "Misty", "Modern", "Noble", "Northern", "Old", "Quiet",
    "Royal", "Rustic", "Silver", "Smart", "Solar", "Swift", "Urban", "Velvet", "Wild", "Winter",
)
