"""Poradna's entry points: configuration, composition root, CLI and channel adapters."""
