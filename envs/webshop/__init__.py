"""The WebShop family (``turngym/WebShop-v0``): a generated web shop served over HTTP.

``vocab`` and ``catalog`` generate a world's products, ``search`` indexes them (BM25), ``goals``
and ``data`` build the goals and splits into the cache, ``reward`` is WebShop's reward, ``shop``
and ``app`` are the web app and its server, ``page`` reads a served page as text, ``env`` is the
env, ``oracle`` its scripted players, and ``loader`` reads the original WebShop files.
"""
