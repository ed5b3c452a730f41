"""obsctl's user-facing errors: printed as clear messages (file, object, field), never as a traceback.

They are the catalog's problem types (catalog/problems.py), so an error in catalog.yaml and one in
an SLO spec read alike. `ObsctlError` is the name obsctl's modules raise.
"""

from __future__ import annotations

from catalog.problems import Problem, SpecError, StrictModel, from_validation, validation_problems

ObsctlError = SpecError

__all__ = ["ObsctlError", "Problem", "StrictModel", "from_validation", "validation_problems"]
