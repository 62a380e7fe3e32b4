"""The REST API's shared pieces: its models (``schemas``), and the operation registry that
authenticates, validates, answers problems and builds the OpenAPI document (``core``).

The routes themselves live in ``forum/blueprints/api.py``.
"""
