"""Talking to AWS: the gateway (clients, retries, errors), backends, eventual consistency."""
