"""Code every service shares: configuration, errors, deadlines, metrics, clients, the app base."""
