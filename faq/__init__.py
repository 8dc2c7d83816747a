"""The FAQ: schema, loader, text normaliser, language detector and matcher."""
