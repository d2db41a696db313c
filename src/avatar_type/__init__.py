"""Avatar type recognition: classify profile images as real photo, drawing or AI-generated."""

__version__ = "0.1.0"
