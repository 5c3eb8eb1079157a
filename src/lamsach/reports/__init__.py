"""Reports: one report document per campaign and unit, rendered to Word and Excel."""
