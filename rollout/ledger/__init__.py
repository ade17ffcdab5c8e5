"""The DynamoDB ledger: releases, rollouts, locks and instances tables (DESIGN §3)."""
