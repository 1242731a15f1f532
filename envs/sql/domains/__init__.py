"""The generated SQL domains.

Train/val and test domains have different themes and no table names in common, so the test
databases are unseen in training.  Each domain is a declarative spec (:mod:`.framework`) with
generic question templates (:mod:`.templates`, :mod:`.templates_grouped`).
"""

from __future__ import annotations

from envs.sql.domains import (
    airline,
    company_hr,
    food_delivery,
    hospital,
    library,
    observatory,
    real_estate,
    retail,
    university,
    wildlife,
    winery,
)
from envs.sql.domains.base import KINDS, Domain, GeneratedQuestion

TRAINVAL_DOMAINS: list[Domain] = [
    retail.DOMAIN,
    library.DOMAIN,
    university.DOMAIN,
    hospital.DOMAIN,
    airline.DOMAIN,
    company_hr.DOMAIN,
    real_estate.DOMAIN,
    food_delivery.DOMAIN,
]
TEST_DOMAINS: list[Domain] = [
    wildlife.DOMAIN,
    observatory.DOMAIN,
    winery.DOMAIN,
]

__all__ = ["KINDS", "TEST_DOMAINS", "TRAINVAL_DOMAINS", "Domain", "GeneratedQuestion"]
