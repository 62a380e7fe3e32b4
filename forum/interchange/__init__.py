"""Moving content in and out of forum in portable formats."""
