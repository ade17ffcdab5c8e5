"""Every face a person uses: the `freshfleet` entry point, the Textual console, the CLI."""
