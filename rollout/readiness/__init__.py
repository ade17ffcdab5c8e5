"""Is an account ready for freshfleet: doctor, init, egress and IAM simulation."""
