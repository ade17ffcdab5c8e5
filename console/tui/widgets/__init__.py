"""The console's widgets: each one a piece of a screen."""
