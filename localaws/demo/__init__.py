"""The demo account: its seed, release server and steady traffic."""
