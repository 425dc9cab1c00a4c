"""Issue 22, class 11: leaderboard identity: TR39 look-alike names share a slug; links carry no user info."""

from __future__ import annotations

import json

import pytest

from fsabench.leaderboard.submission import EntryInfo, SubmissionError, check_entry, entry_slug
from tests.leaderboard.support import board, good_bundle, verifier


@pytest.mark.parametrize("lookalike", ["Lеxicon baseline",  # Cyrillic е
                                       "Lexicon bаseline",  # Cyrillic а
                                       "Lexicοn baseline",  # Greek ο
                                       "ＬＥＸＩＣＯＮ baseline", "lexicon   BASELINE"])
def test_a_lookalike_name_gets_the_slug_of_the_name_it_imitates(lookalike):
    assert entry_slug(lookalike) == entry_slug("Lexicon baseline") == "lexicon-baseline"


def test_plain_names_keep_their_slugs_and_other_scripts_get_a_hash():
    assert entry_slug("SmolLM2-135M-Instruct 4-shot") == "smollm2-135m-instruct-4-shot"
    assert entry_slug("日本語モデル").startswith("entry-") and entry_slug("日本語モデル") != entry_slug("日本語モデル2")


def test_a_cyrillic_lookalike_bundle_verifies_to_the_existing_entrys_slug():
    real = verifier().verify_bytes(json.dumps(good_bundle()).encode(), "a.json")
    fake = good_bundle()
    fake["entry"]["name"] = "Lеxicon baseline"  # Cyrillic е: looks identical on the board
    forged = verifier().verify_bytes(json.dumps(fake).encode(), "b.json")
    assert forged.slug == real.slug  # one file, one owner: the service answers 409, a folder holds one bundle


@pytest.mark.parametrize("link", ["https://huggingface.co@evil.example/x", "https://user:pw@example.org/",
                                  "https://:@example.org/", "https:///nohost", "http://example.org:99999/"])
def test_links_with_user_info_or_without_a_host_are_refused(link):
    entry = EntryInfo(name="x", category="baseline", date="2026-01-01", link=link)
    with pytest.raises(SubmissionError, match="not a plain http"):
        check_entry(entry, "b.json", board().spec.limits, ["baseline"])
