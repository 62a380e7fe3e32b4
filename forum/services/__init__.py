"""Domain rules as plain functions on a session: no Flask, no commits."""
