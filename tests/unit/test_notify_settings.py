"""The `[[notify]]` tables: what is accepted, what is refused with the key named, and the
payload shapes a receiver checks."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from rollout.config import ConfigError, load_config
from rollout.notify.message import Notification, sign, slack_body, sns_message, webhook_body

HOOK = '[[notify]]\napp = "demo-web"\nkind = "webhook"\nurl = "https://hooks.example/x"\n'


def load(tmp_path, text):
    path = tmp_path / "freshfleet.toml"
    path.write_text(text)
    return load_config(path, env={})


def test_a_webhook_table_is_read_with_every_event_by_default(tmp_path):
    config = load(tmp_path, HOOK + 'secret_env = "HOOK_SECRET"\n')
    (spec,) = config.notify
    assert spec.kind == "webhook" and spec.secret_env == "HOOK_SECRET"
    assert "started" in spec.events and "test" not in spec.events
    assert spec.hears("demo-web", "failed") and not spec.hears("other", "failed")


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('colour = "red"\n', "unknown key 'colour'"),
        ('secret = "hunter2"\n', "secrets never live in the file"),
        ('events = ["exploded"]\n', "unknown event 'exploded'"),
        ("timeout = 600\n", "'timeout' must be between"),
    ],
)
def test_a_bad_table_is_refused_naming_the_key(tmp_path, extra, words):
    with pytest.raises(ConfigError, match=words):
        load(tmp_path, HOOK + extra)


def test_sns_needs_a_topic_and_webhooks_need_a_url(tmp_path):
    with pytest.raises(ConfigError, match="topic_arn"):
        load(tmp_path, '[[notify]]\napp = "*"\nkind = "sns"\n')
    with pytest.raises(ConfigError, match="needs 'url'"):
        load(tmp_path, '[[notify]]\napp = "*"\nkind = "slack"\nurl = "ftp://x"\n')


def _note(**changes):
    base = dict(
        event="failed",
        app="demo-web",
        rollout_id="20261202T1200-ab12",
        from_release="v1",
        to_release="v3",
        strategy="canary",
        backend="account 123456789012 eu-west-1",
        at="2026-12-02T12:00:00+00:00",
        reason="<https://evil.example|click> & more",
    )
    return Notification(**(base | changes))


def test_the_signature_is_hmac_sha256_of_the_exact_body():
    body = webhook_body(_note())
    want = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign(body, "k") == f"sha256={want}"
    assert json.loads(body)["event"] == "failed"


def test_slack_text_cannot_smuggle_links_and_sns_subjects_fit():
    payload = json.loads(slack_body(_note()))
    assert "<https://evil" not in json.dumps(payload)
    assert "&lt;https://evil.example|click&gt; &amp; more" in json.dumps(payload)
    subject, message = sns_message(_note(app="a" * 120))
    assert len(subject) < 100 and "\n" not in subject
    assert "freshfleet rollback" in message
