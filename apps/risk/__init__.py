"""risk: rule-based score and decision; degrades to an amount limit when Redis is unreachable."""
