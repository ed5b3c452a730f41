"""The generate half of obsctl: every artifact rendered from observability/, and its static checks."""
