"""The Textual console: the app, its screens, widgets and fleet table."""
