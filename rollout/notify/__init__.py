"""Rollout notifications: tell the team's channel what a rollout did (ARCHITECTURE §4).

`settings` reads the `[[notify]]` tables of the configuration, `message` turns a rollout's
events into the payloads a Slack-compatible webhook, a signed JSON webhook and an SNS topic
take, `delivery` sends one with a timeout and bounded retries, and `relay` watches a running
rollout and delivers beside it, never in its way.
"""
