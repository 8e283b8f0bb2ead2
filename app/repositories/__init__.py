"""Storage of users and their accounts, behind the interface in `base`."""
