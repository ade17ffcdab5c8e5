"""Judging a release on its traffic (ARCHITECTURE §4): the request evidence of the groups in
play, read from the load balancer's CloudWatch metrics, and a verdict that accounts for how
many requests it has seen. `evidence` reads, `verdict` decides, `alarms` reads alarm gates.
"""
