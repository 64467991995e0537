"""pytest entry point (placeholder while the core is built)."""
