from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from summarizer.errors import EvalError
from summarizer.evaluation.dataset import Fact, load_facts, load_suite
from summarizer.evaluation.matchers import LexicalMatcher
from tests.evaluation.builders import SEEDS

# SHA-256 of each upstream seed article (the project's shared/seeds/) as it was labelled. The
# facts' `must_include` terms and the story's verbatim wordings hold for these bytes only.
UPSTREAM_SEED_SHA256 = {
    "000_792d328d63c8fd01.txt": "5867a8aed26ed49e69bd509049dea261df6947e319bfbed72476a54be3241c38",
    "001_c7cab5bb4e64a322.txt": "c3e5716a26de2b912f9fb8862b35fe0460f321a6c0d678e1dc1a198ed35f85ca",
    "002_6d3c99f1deddeec7.txt": "15ff7fc6bb851268fda0676f29850c0f69c2cb6b4a4d0c44a0e30f6899e4ec84",
    "003_835030cc783f1d85.txt": "e0dd2f1ab1f81409d33d0c8b3230044647bc4f530a27f564da4e2ff7e96efbc6",
    "004_bc305e52182d6c2c.txt": "7013943689f341bfc9ace1f975b4711b3abaa2b0af504f3e295f812b2cf3b388",
}


def copy_suite(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


def edit_json(path: Path, change: Callable[[Any], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_shipped_suite_validates_and_is_complete() -> None:
    suite = load_suite(SEEDS)
    assert suite.suite.id == "seeds"
    assert [a.id[:3] for a in suite.articles] == ["000", "001", "002", "003", "004"]
    for article in suite.articles:
        facts = article.facts.facts
        assert 10 <= len(facts) <= 25, article.id
        assert sum(f.importance == "core" for f in facts) >= 6, article.id
    assert suite.story is not None
    assert len(suite.story.shared_facts) >= 10
    wordings = {v.wording for q in suite.story.quote_variants for v in q.variants}
    assert "This is truly a landmark document" in wordings
    assert "It is really a breakthrough document" in wordings
    kinds = {d.kind for d in suite.story.disagreements}
    assert "contested_claim" in kinds


def test_outlets_are_only_labelled_where_the_text_names_one() -> None:
    outlets = {a.id[:3]: a.facts.outlet for a in load_suite(SEEDS).articles}
    assert outlets == {
        "000": None,
        "001": "AFP",
        "002": None,
        "003": "The Times Union / Kyodo",
        "004": None,
    }


def test_articles_are_byte_identical_to_the_upstream_seeds() -> None:
    shipped = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((SEEDS / "articles").glob("*.txt"))
    }
    assert shipped == UPSTREAM_SEED_SHA256


def test_bad_importance_names_file_and_entry(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)
    path = suite / "facts" / "000_792d328d63c8fd01.json"
    edit_json(path, lambda d: d["facts"][3].update(importance="crucial"))
    with pytest.raises(EvalError) as caught:
        load_facts(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: facts[3].importance: ")
    assert "'core' or 'detail'" in message


def test_unknown_field_is_rejected(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)
    path = suite / "facts" / "001_c7cab5bb4e64a322.json"
    edit_json(path, lambda d: d["facts"][0].update(must_inclued=["Putin"]))
    with pytest.raises(EvalError, match=r"facts\[0\]\.must_inclued: Extra inputs"):
        load_suite(suite)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)
    (suite / "story.json").write_text("{", encoding="utf-8")
    with pytest.raises(EvalError, match=r"story\.json: not valid JSON"):
        load_suite(suite)


def test_fact_id_must_carry_the_article_prefix(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)
    path = suite / "facts" / "002_6d3c99f1deddeec7.json"
    edit_json(path, lambda d: d["facts"][1].update(id="001-f99"))
    with pytest.raises(EvalError, match=r"facts\[1\]\.id '001-f99' must start with '002-'"):
        load_facts(path)


def test_must_include_term_missing_from_article_is_a_labelling_error(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)
    path = suite / "facts" / "000_792d328d63c8fd01.json"
    edit_json(path, lambda d: d["facts"][2].update(must_include=["Beijing"], aliases={}))
    with pytest.raises(EvalError, match=r"facts\[2\]\.must_include\[0\]: 'Beijing'"):
        load_suite(suite)


def test_alias_key_must_name_a_phrase_of_the_fact() -> None:
    with pytest.raises(ValueError, match="occurs in neither text nor must_include"):
        Fact(id="x-f01", text="Putin signed a treaty.", aliases={"DPRK": ("North Korea",)})


def test_story_must_cite_existing_facts(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)
    edit_json(suite / "story.json", lambda d: d["shared_facts"][0]["fact_ids"].append("004-f99"))
    with pytest.raises(EvalError, match=r"shared_facts\[0\]\.fact_ids: unknown fact id '004-f99'"):
        load_suite(suite)


def test_quote_wording_must_be_verbatim(tmp_path: Path) -> None:
    suite = copy_suite(tmp_path)

    def reword(data: Any) -> None:
        data["quote_variants"][0]["variants"][0]["wording"] = "This is truly a historic document"

    edit_json(suite / "story.json", reword)
    with pytest.raises(EvalError, match=r"quote_variants\[0\]\.variants\[0\]\.wording"):
        load_suite(suite)


def test_every_shipped_fact_is_findable_in_its_own_article() -> None:
    # A fact the default matcher cannot find even in the full article (or in its own words)
    # is mislabelled: no summary could ever be credited with it.
    matcher = LexicalMatcher()
    for article in load_suite(SEEDS).articles:
        for fact in article.facts.facts:
            assert matcher.matches(fact, fact.text).present, fact.id
            assert matcher.matches(fact, article.text).present, fact.id
