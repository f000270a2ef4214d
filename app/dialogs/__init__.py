"""Modal dialogs: preferences and re-cutting the loaded images."""
