"""SLO specs (Sloth prometheus/v1, OpenSLO v1) read into one internal model and validated."""
