"""Importers that bring content in from other systems (``forum import ...``)."""
