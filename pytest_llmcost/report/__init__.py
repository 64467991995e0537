"""Reports built from metered results: terminal, HTML, Markdown."""
