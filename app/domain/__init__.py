"""What the service is about, with no I/O: accounts, connections and their jobs, and the
refusals of the business rules. Imports nothing else of the app."""
