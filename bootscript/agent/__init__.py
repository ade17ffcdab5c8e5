"""The boot agent: what `freshfleet-boot.service` runs on every fresh instance (ARCHITECTURE §6).

fetch → verify → extract → build → run → health, each phase reported as one console line
`freshfleet-boot <ISO-8601 time> <phase> <start|ok|fail> [detail]` and, when
`INSTANCES_TABLE` is set, as an item of that DynamoDB table. Run it as
`python3 -m bootscript.agent` (it imports only the standard library, boto3 and docker, and
runs on Debian 12's system Python 3.11.2 with its docker-py 5.0.3).
"""
