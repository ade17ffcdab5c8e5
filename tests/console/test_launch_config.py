"""The console's configuration follows the backend it will run on, embedded one included."""

from __future__ import annotations

import argparse

from console.backend_choice import console_config
from rollout.aws.backend import Backend
from rollout.config import DEMO_ROLLOUT, RolloutSettings


def test_the_embedded_sandbox_gets_the_demos_short_timers_and_aws_the_defaults(tmp_path):
    args = argparse.Namespace(config=None)
    embedded = console_config(args, None)  # no backend yet: the console will start one
    assert embedded.rollout.bake_seconds == DEMO_ROLLOUT.bake_seconds == 30.0
    local = Backend(endpoint_url="http://127.0.0.1:4566", region="us-east-1", local=True)
    assert console_config(args, local).rollout == DEMO_ROLLOUT
    aws = Backend(region="eu-west-1")
    assert console_config(args, aws).rollout.bake_seconds == RolloutSettings().bake_seconds

    # The file still wins over the demo's settings.
    path = tmp_path / "freshfleet.toml"
    path.write_text("[rollout]\nbake_seconds = 5\n")
    assert console_config(argparse.Namespace(config=str(path)), None).rollout.bake_seconds == 5
