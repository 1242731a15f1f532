"""Credit assignment methods, one file each; importing this package registers them all.

Add a method by writing ``trainers/credit/<name>.py`` with a ``@register_credit`` class: every
module of this package is imported here, so nothing else needs editing.
"""

import importlib
import pkgutil

from trainers.credit.base import CreditMethod, Signals, broadcast, credit_methods, get_credit, register_credit

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["CreditMethod", "Signals", "broadcast", "credit_methods", "get_credit", "register_credit"]
