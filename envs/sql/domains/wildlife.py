"""A wildlife sanctuary (test domain): animals live in habitats, cared for by keepers."""

from __future__ import annotations

from envs.sql.domains.framework import SpecDomain, Table, attr, cat, date, date_after, fk, money, num, person, title

SPECIES = {  # species: (class, diet, typical weight kg)
    "Red Panda": ("Mammal", "Herbivore", 5), "Snow Leopard": ("Mammal", "Carnivore", 45),
    "Gray Wolf": ("Mammal", "Carnivore", 40),
    "Brown Bear": ("Mammal", "Omnivore", 300), "Reindeer": ("Mammal", "Herbivore", 120), "Otter": ("Mammal", "Carnivore", 9),
    "Bald Eagle": ("Bird", "Carnivore", 5), "Flamingo": ("Bird", "Omnivore", 3), "Snowy Owl": ("Bird", "Carnivore", 2),
    "Galapagos Tortoise": ("Reptile", "Herbivore", 220), "Green Iguana": ("Reptile", "Herbivore", 4),
    "Komodo Dragon": ("Reptile", "Carnivore", 80), "Axolotl": ("Amphibian", "Carnivore", 0.3),
    "Poison Dart Frog": ("Amphibian", "Insectivore", 0.03), "Lemur": ("Mammal", "Omnivore", 3),
    "Capybara": ("Mammal", "Herbivore", 50),
}
PET_NAMES = ("Pip", "Juno", "Mika", "Nala", "Kodo", "Tilly", "Bruno", "Sasha", "Yuki", "Olive", "Rocco", "Fern", "Zuzu",
             "Maple", "Echo", "Biscuit", "Luna", "Ziggy", "Clover", "Rafi", "Nova", "Pebble", "Kiwi", "Tundra")
HABITATS = ("Alpine Ridge", "Bamboo Grove", "Tropical Dome", "Wetland Marsh", "Boreal Forest", "Savanna Plain", "Reptile House",
            "Coastal Lagoon", "Desert Canyon", "Rainforest Trail", "Polar Pool", "Amphibian Grotto")
FOODS = ("fish", "fresh meat", "leaves", "fruit", "insects", "pellets", "vegetables", "seeds")


def animal(i: int):
    return lambda r, row, db: SPECIES[row["species"]][i]


def weight(r, row, db):
    return round(SPECIES[row["species"]][2] * r.uniform(0.6, 1.4), 2)


DOMAIN = SpecDomain("wildlife_sanctuary", [
    Table("habitats", "habitat", len(HABITATS), (
        title("name", lambda r, row, db: HABITATS[row["habitat_id"] - 1]),
        cat("climate", ("Cold", "Temperate", "Tropical", "Arid"), where="with climate {v}"),
        num("area_hectares", 0.5, 40.0, digits=1, skew=1.5, label="area in hectares", labels="areas in hectares",
            where="covering {v} hectares", cmp=("more than", "less than")),
    )),
    Table("keepers", "keeper", 45, (
        title("name", person),
        cat("certification", ("Junior Keeper", "Senior Keeper", "Veterinary Technician", "Head Keeper"), (5, 4, 2, 1),
            where="certified as {v}"),
        date("hire_date", "2005-01-01", "2024-06-30", label="hire date", where="hired {v}"),
    )),
    Table("animals", "animal", 420, (
        cat("species", tuple(SPECIES), labels="species", where="of the species {v}"),
        title("name", lambda r, row, db: f"{r.choice(PET_NAMES)} {row['animal_id']}"),
        attr("animal_class", animal(0), role="cat", label="animal class", labels="animal classes", where="in the class {v}"),
        attr("diet", animal(1), role="cat", where="with a {v} diet"),
        fk("habitat_id", "habitats", where="living in {v}", have="house|houses {n} animals", empty=0.0),
        fk("keeper_id", "keepers", where="cared for by {v}", have="care|cares for {n} animals"),
        date("birth_date", "2000-01-01", "2024-05-31", label="birth date", where="born {v}"),
        attr("weight_kg", weight, "REAL", role="num", label="weight in kg", labels="weights in kg", where="weighing {v} kg",
             additive=False, cmp=("more than", "less than")),
    )),
    Table("feedings", "feeding", 3000, (
        fk("animal_id", "animals", where="of {v}", have="have|has {n} feedings", empty=0.0),
        fk("keeper_id", "keepers", where="done by {v}", have="did|did {n} feedings"),
        date("feeding_date", "2024-01-01", "2024-12-31", label="feeding date", where="done {v}"),
        cat("food_type", FOODS, label="food type", where="of {v}"),
        num("quantity_kg", 0.05, 12.0, digits=2, skew=2.5, label="quantity in kg", labels="quantities in kg",
            where="with {v} kg of food", cmp=("more than", "less than")),
    )),
    Table("vet_checkups", "vet checkup", 900, (
        fk("animal_id", "animals", where="of {v}", have="have|has had {n} vet checkups", empty=0.05),
        date("checkup_date", "2022-01-01", "2024-12-31", label="checkup date", where="done {v}"),
        date_after("next_checkup", "checkup_date", 60, 365, role="attr"),
        cat("outcome", ("healthy", "minor issue", "treatment needed", "surgery"), (12, 5, 3, 1), where="with outcome {v}"),
        money("cost", 30, 2500, skew=3.0, where="costing {v}", cmp=("more than", "less than")),
    )),
])
