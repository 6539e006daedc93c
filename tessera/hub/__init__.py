"""The international hub: agencies share hashes and metadata of categorised media, never files.

``models``/``db``: the hub database; ``auth``: agencies, tokens, scopes, rate limits; ``service``:
push, pull, query, withdraw; ``app``: the HTTP API; ``client``/``caseside``: what a case runs.
"""
