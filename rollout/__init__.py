"""freshfleet's engine: model, config, AWS gateway, observer, ledger, rollouts. No faces here."""
