"""What an instance runs on: the runtime interface, the real (Docker) and simulated boots."""
