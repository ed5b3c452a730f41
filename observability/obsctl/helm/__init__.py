"""The Helm chart's examples: rendered with the real Helm library, linted, checked for drift."""
