"""Where accounts come from besides the API: providers (aggregators such as Plaid), through
which a connection links a user's bank login. One adapter per provider, behind base.py."""
