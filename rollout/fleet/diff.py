"""What changed between two fleet snapshots, keyed by instance id, group and app name."""

from __future__ import annotations

from rollout.model import FleetDiff, FleetSnapshot


def diff_snapshots(before: FleetSnapshot | None, after: FleetSnapshot) -> FleetDiff:
    """The FleetDiff from `before` to `after`; with no `before`, everything is added.

    An instance is `changed` when any field differs (state, health, boot phase, ...); a
    group or app when any of its fields differs. Ids come sorted so diffs compare exactly.
    """
    old_instances = before.instances if before else {}
    new_instances = after.instances
    added = sorted(set(new_instances) - set(old_instances))
    removed = sorted(set(old_instances) - set(new_instances))
    # Identity first: the observer hands back the same object for an unchanged instance.
    changed = sorted(
        i
        for i in set(new_instances) & set(old_instances)
        if new_instances[i] is not old_instances[i] and new_instances[i] != old_instances[i]
    )
    old_groups = {g.name: g for a in (before.apps if before else ()) for g in a.groups}
    new_groups = {g.name: g for a in after.apps for g in a.groups}
    groups_changed = sorted(
        name
        for name in set(old_groups) | set(new_groups)
        if old_groups.get(name) != new_groups.get(name)
    )
    old_apps = {a.name: a for a in (before.apps if before else ())}
    new_apps = {a.name: a for a in after.apps}
    apps_changed = sorted(
        name for name in set(old_apps) | set(new_apps) if old_apps.get(name) != new_apps.get(name)
    )
    return FleetDiff(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        groups_changed=tuple(groups_changed),
        apps_changed=tuple(apps_changed),
    )
