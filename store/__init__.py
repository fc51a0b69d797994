"""The store: what the live service keeps, in SQLite (WAL) under one data folder.

`db.open_store(folder)` opens (and creates or migrates) the database; the modules beside
it each own a few tables: `tokens` (sign-in tokens, hashed), `feed_log` (the feed's
resume buffer and the alerts' latest values), `ingest_journal` (gateway frames kept
until the engine has processed them). The store may import engine types; it never
imports the application layer.
"""
