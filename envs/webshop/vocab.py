"""The shop's vocabulary: categories, product types, attributes, option axes and brand syllables.

Each product type is one line ``category > subcategory | phrase | type nouns | attributes | axes |
low-high``.  An attribute written ``a/b`` is phrased ``a`` in world A (train/val) and ``b`` in world
B (test), so some attribute phrasings of the test world never occur in the training world.  Types
listed in ``ONLY_A`` exist in world A only, ``ONLY_B`` in world B only, ``SHARED`` in both.
Axes name value pools in :data:`OPTION_POOLS` as ``axis:pool``.

Values within one pool are chosen so that no two of them match under WebShop's option rule
(token-set ratio > 85 after colour normalization); attribute pools likewise (tested), so a
product offering the wrong option or lacking an attribute really scores less.
"""

from __future__ import annotations

from pydantic import BaseModel

OPTION_POOLS: dict[str, list[str]] = {
    "colors": ["black", "white", "navy", "red", "grey", "green", "beige", "pink", "brown", "purple", "yellow",
               "orange", "teal", "burgundy", "khaki", "olive", "charcoal", "ivory", "silver", "gold"],
    "metal": ["silver", "gold", "rose", "black", "bronze", "copper", "white"],
    "wood": ["walnut", "oak finish", "espresso", "white", "natural", "black", "grey"],
    "apparel": ["xs", "s", "m", "l", "xl", "2xl", "3xl"],
    "shoe": ["6", "7", "8", "9", "10", "11", "12", "13"],
    "packs": ["1 pack", "2 pack", "3 pack", "4 pack", "6 pack", "8 pack"],
    "ounces": ["4 oz", "8 oz", "16 oz", "32 oz", "50 oz"],
    "flavor": ["vanilla", "chocolate", "strawberry", "peanut butter", "salted caramel", "matcha", "mango",
               "cinnamon", "blueberry", "coconut"],
    "scent": ["lavender", "eucalyptus", "unscented", "citrus", "sandalwood", "rosewood", "fresh linen", "cedar"],
    "capacity": ["12 oz", "20 oz", "24 oz", "40 oz", "64 oz"],
    "storage": ["64gb", "128gb", "256gb", "512gb", "1tb"],
    "length": ["3 ft", "6 ft", "10 ft", "15 ft"],
    "bed": ["twin", "full", "queen", "king"],
    "style": ["classic", "modern", "vintage", "minimalist", "rustic"],
    "pet": ["puppy", "adult", "senior"],
    "weight": ["4 lb", "8 lb", "15 lb", "30 lb"],
}

# category > subcategory | phrase | type nouns | attributes | axes | price range
SHARED = """
clothing > men | crew neck t-shirt | t-shirt | cotton, machine washable/washer safe, short sleeve, regular fit, tagless, moisture wicking/sweat wicking, relaxed fit | color:colors, size:apparel | 8-35
clothing > women | yoga leggings | leggings | high waist, squat proof, four way stretch, tummy control, hidden pocket, ankle length, machine washable/washer safe | color:colors, size:apparel | 15-60
clothing > women | rain jacket | jacket | waterproof, hooded, packable, breathable, zip pockets, lightweight/ultralight | color:colors, size:apparel | 30-140
shoes > men | hiking boots | boots | waterproof, leather upper, rubber sole, lace up, ankle support, slip resistant/anti slip | color:colors, size:shoe | 45-190
shoes > women | running shoes | shoes | breathable mesh, cushioned sole, lightweight/ultralight, slip on, arch support, memory foam insole | color:colors, size:shoe | 30-150
beauty > skin care | face moisturizer | moisturizer | hyaluronic acid, fragrance free/scent free, oil free, spf 30, cruelty free, paraben free, for sensitive skin | size:ounces | 9-70
beauty > hair care | shampoo | shampoo | sulfate free, paraben free, color safe, for dry hair, tea tree oil, argan oil | scent:scent, size:ounces | 6-40
grocery > snacks | protein bars | bars | gluten free, high protein, low sugar, non gmo, keto friendly, plant based | flavor:flavor, size:packs | 10-45
grocery > beverages | cold brew coffee | coffee | organic, fair trade, dark roast, low acid, single origin, whole bean | flavor:flavor, size:ounces | 9-50
home > kitchen | chef knife | knife | stainless steel, full tang, ergonomic handle, dishwasher safe/dishwasher friendly, rust resistant, ultra sharp | color:metal | 15-160
home > kitchen | nonstick frying pan | frying pan | ceramic coating, induction compatible, oven safe, pfoa free, dishwasher safe/dishwasher friendly, glass lid | color:colors, size:length | 18-120
home > bedding | sheet set | sheets | deep pocket, egyptian cotton, wrinkle resistant, cooling, 400 thread count, machine washable/washer safe | color:colors, size:bed | 25-180
home > furniture | bookshelf | bookshelf | solid wood, easy assembly, five tier, anti tip kit, adjustable shelves | color:wood, style:style | 40-260
electronics > audio | wireless earbuds | earbuds | noise cancelling, bluetooth 5.3, water resistant, charging case, long battery life, touch control | color:colors | 20-200
electronics > accessories | usb c cable | cable | fast charging, braided nylon, 100w, data transfer, tangle free | color:colors, length:length, size:packs | 6-30
electronics > storage | portable ssd | ssd | usb 3.2, shock resistant, compact design, hardware encryption, aluminum case | color:colors, capacity:storage | 50-300
sports > fitness | yoga mat | mat | non slip/anti slip, extra thick, eco friendly, carrying strap, sweat resistant | color:colors, style:style | 15-90
sports > camping | sleeping bag | sleeping bag | mummy shape, three season, compression sack, water repellent, lightweight/ultralight, machine washable/washer safe | color:colors | 30-220
sports > hydration | insulated water bottle | water bottle | stainless steel, vacuum insulated, leak proof, bpa free, wide mouth, dishwasher safe/dishwasher friendly | color:colors, size:capacity | 12-55
pets > dogs | dog food | dog food | grain free, real chicken, high protein, no artificial flavors, made in usa | age:pet, size:weight | 15-90
pets > cats | cat litter | litter | clumping, odor control, dust free, unscented/scent free, lightweight/ultralight | size:weight | 8-40
office > writing | gel pens | pens | quick drying, fine point, smooth writing, assorted colors, retractable | size:packs | 5-30
"""

ONLY_A = """
clothing > men | hooded sweatshirt | sweatshirt | fleece lined, kangaroo pocket, drawstring hood, cotton, machine washable, pullover | color:colors, size:apparel | 18-70
clothing > women | wrap dress | dress | v neck, midi length, floral print, flowy, short sleeve, machine washable | color:colors, size:apparel | 20-90
shoes > women | ankle boots | boots | block heel, side zipper, faux leather, pointed toe, cushioned insole | color:colors, size:shoe | 35-140
shoes > kids | kids sneakers | sneakers | hook and loop, light up, non marking sole, breathable mesh, easy on | color:colors, size:shoe | 15-60
beauty > makeup | liquid foundation | foundation | full coverage, long lasting, oil free, spf 15, matte finish, vegan | color:colors, size:ounces | 8-55
grocery > pantry | olive oil | olive oil | extra virgin, cold pressed, organic, first harvest, glass bottle | size:ounces, pack:packs | 9-60
grocery > snacks | trail mix | trail mix | no added sugar, roasted nuts, resealable bag, gluten free, vegan | flavor:flavor, size:packs | 7-35
home > kitchen | coffee maker | coffee maker | programmable, thermal carafe, auto shut off, 12 cup, built in grinder | color:colors | 30-220
home > decor | throw pillow covers | pillow covers | linen blend, hidden zipper, double sided, machine washable | color:colors, size:packs | 10-40
electronics > computers | wireless mouse | mouse | ergonomic design, silent click, rechargeable, adjustable dpi, usb receiver | color:colors | 10-80
electronics > audio | bluetooth speaker | speaker | waterproof, 20 hour playtime, deep bass, built in microphone, pairable | color:colors | 20-180
sports > cycling | bike helmet | helmet | adjustable fit, led light, removable visor, vented, lightweight | color:colors, size:apparel | 25-120
toys > games | jigsaw puzzle | puzzle | 1000 piece, thick pieces, poster included, anti glare, family friendly | style:style | 9-35
garden > tools | pruning shears | shears | bypass blade, ergonomic handle, safety lock, rust resistant, sk5 steel | color:colors | 10-45
"""

ONLY_B = """
clothing > men | chino pants | pants | slim fit, stretch twill, flat front, wrinkle free, belt loops | color:colors, size:apparel | 22-85
clothing > kids | kids pajama set | pajamas | snug fit, flame resistant, two piece, tag free, soft knit | color:colors, size:apparel | 12-45
shoes > men | leather loafers | loafers | genuine leather, slip on, padded footbed, stitched detail, flexible outsole | color:colors, size:shoe | 40-180
beauty > fragrance | eau de parfum | perfume | long lasting, travel size, floral notes, alcohol free, refillable bottle | scent:scent, size:ounces | 20-160
grocery > breakfast | steel cut oats | oats | whole grain, kosher, quick cooking, high fiber, non gmo | flavor:flavor, size:packs | 6-30
home > bath | bath towel set | towels | quick dry, ring spun cotton, oversized, highly absorbent, hotel quality | color:colors, size:packs | 20-110
home > kitchen | electric kettle | kettle | rapid boil, borosilicate glass, keep warm, cordless pour, temperature presets | color:colors | 20-120
electronics > wearables | fitness tracker | tracker | heart rate monitor, sleep tracking, gps, swim proof, seven day battery | color:colors | 25-200
electronics > computers | mechanical keyboard | keyboard | hot swappable, rgb backlit, tenkeyless, pbt keycaps, wired usb c | color:colors, style:style | 35-220
sports > fishing | spinning reel | reel | carbon drag, sealed bearings, graphite body, smooth retrieve, saltwater ready | color:metal | 25-200
pets > birds | bird feeder | feeder | squirrel proof, weather resistant, hanging hook, easy refill | color:colors, style:style | 12-70
office > furniture | desk lamp | lamp | dimmable, usb charging port, adjustable arm, eye caring, touch switch | color:colors, style:style | 15-90
toys > building | building blocks set | blocks | stem learning, storage box, compatible bricks, age three plus, non toxic | size:packs | 12-90
garden > watering | garden hose | hose | kink free, brass fittings, expandable, burst proof, lead free | color:colors, length:length | 18-90
"""

TITLE_WORDS = {  # extra, attribute-free filler the title generator draws from
    "A": ["Premium", "Everyday", "Original", "Essential", "Signature", "Pro", "Plus", "Select"],
    "B": ["Deluxe", "Classic", "Studio", "Prime", "Elite", "Core", "Edge", "Trail"],
}

BRAND_SYLLABLES = {
    "A": (["ka", "lo", "mi", "ve", "tor", "na", "ri", "bel", "sa", "du", "fen", "qua", "zo", "pri", "mar"],
          ["ra", "lix", "nova", "tek", "ora", "vin", "mo", "ton", "ly", "ent", "ia", "ux"]),
    "B": (["ju", "pe", "wal", "ho", "ster", "gri", "bo", "cam", "ye", "thi", "ob", "gla", "wy", "fu", "dre"],
          ["sk", "ardo", "wick", "hem", "ello", "ost", "ada", "rin", "by", "ane", "ume", "ox"]),
}


class ProductType(BaseModel):
    key: str  # the phrase, unique per world
    category: str
    subcategory: str
    phrase: str
    nouns: list[str]
    attributes: list[str]
    axes: list[tuple[str, str]]  # (axis name, pool name)
    price: tuple[float, float]


def _parse(block: str, world: str) -> list[ProductType]:
    types = []
    for line in block.strip().splitlines():
        path, phrase, nouns, attrs, axes, price = (part.strip() for part in line.split("|"))
        category, subcategory = (p.strip() for p in path.split(">"))
        attributes = [a.strip().split("/")[0 if world == "A" else -1] for a in attrs.split(",")]
        axis_list = [tuple(a.strip().split(":")) for a in axes.split(",") if a.strip()]
        low, high = (float(x) for x in price.split("-"))
        types.append(ProductType(key=phrase, category=category, subcategory=subcategory, phrase=phrase, nouns=nouns.split(),
                                 attributes=attributes, axes=[(n, p) for n, p in axis_list], price=(low, high)))
    return types


def product_types(world: str) -> list[ProductType]:
    """The product types of world ``"A"`` (train/val) or ``"B"`` (test)."""
    if world not in ("A", "B"):
        raise ValueError(f"world must be 'A' or 'B', got {world!r}")
    return _parse(SHARED, world) + _parse(ONLY_A if world == "A" else ONLY_B, world)
