"""What runs on an instance: user-data template, systemd unit, the boot agent, base images.

Nothing here imports freshfleet's other packages: it ships to instances alone.
"""
