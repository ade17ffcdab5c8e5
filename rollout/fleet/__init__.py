"""The fleet as it is: the observer, records, diffs, traffic points, groups, console output."""
