"""The JSON shapes of the API, as marshmallow schemas: they load, validate and dump."""
