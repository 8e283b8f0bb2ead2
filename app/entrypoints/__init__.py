"""How the world gets in: the HTTP layer (`http/`), the command line, the sync worker, the
fixture server, and the provider sandbox's server."""
