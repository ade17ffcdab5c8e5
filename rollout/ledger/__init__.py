"""The DynamoDB ledger: releases, rollouts, locks and instances tables (ARCHITECTURE §3)."""
