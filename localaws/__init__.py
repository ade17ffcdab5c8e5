"""The embedded local AWS: moto in a child process, patched so instances really boot."""
