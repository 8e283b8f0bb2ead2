"""Business rules in plain Python: no Flask, no storage details; repositories are arguments."""
