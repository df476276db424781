"""The story page: what the markup holds (fast), and what a real headless Chromium does with it.

The story comes from the real pipeline (scripted backend, words embedder) on two crafted
articles: one calm, one hostile (markup that would run if it were not escaped) with emoji before
its spans, so a code-point offset used as a UTF-16 one would highlight the wrong words.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from summarizer.config import Settings
from summarizer.service import Summarizer
from summarizer.sources import source_from_text
from summarizer.story import StoryArticle
from summarizer.story.html import render_html
from summarizer.story.render import render_story
from summarizer.story.result import Cell, StoryResult, Support
from tests.fakes import ScriptedBackend, WordsEmbedder
from tests.openai_server import OpenAIServer
from tests.story.browser import Chromium, chromium_path
from tests.support import run_summarizer

CALM = (
    "Putin and Kim signed a mutual defence treaty in Pyongyang on Wednesday. "
    "It was the first visit by Putin to North Korea in 24 years. "
    "Children waved flags along the road into the city."
)
HOSTILE_MARKUP = (
    "A reader wrote <script>window.pwned = 1</script> and </textarea>"
    '<img src=x onerror="window.pwned = 2"> into the comments '
    "</script><script>window.pwned = 3</script><!-- and left."
)
HOSTILE = (
    "Live 🔴 from Pyongyang 🇰🇵. "
    "Putin and Kim signed a mutual defence treaty in Pyongyang this week. "
    "It was the first visit by Putin to North Korea in 24 years. " + HOSTILE_MARKUP
)


@pytest.fixture(scope="module")
def told(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoryResult, dict[str, str]]:
    home = tmp_path_factory.mktemp("story")
    settings = Settings(
        backend="openai", api_key=SecretStr("sk-test"), model="gpt-4o-mini", mode="extractive",
        cache_dir=home / "cache", models_dir=home / "models",
    )  # fmt: skip
    articles = [
        StoryArticle(source_from_text(CALM, path="calm.txt"), outlet="Calm Times"),
        StoryArticle(source_from_text(HOSTILE, path="hostile.txt"), outlet="<b>Hostile</b> & Co"),
    ]
    service = Summarizer(settings, backend=ScriptedBackend(), embedder=WordsEmbedder())
    try:
        story = service.story(articles)
    finally:
        service.close()
    return story, {"a1": CALM, "a2": HOSTILE}


def support_in(story: StoryResult, source: str, *, containing: str) -> tuple[str, Support]:
    """The claim id and support of the first claim that `source` states with that text."""
    for claim in story.claims:
        for support in claim.support:
            if support.source == source and containing in support.evidence:
                return claim.id, support
    raise AssertionError(f"no claim of {source} has evidence containing {containing!r}")


# --- the markup (fast) -------------------------------------------------------------------------


def sha256_source(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_hostile_article_text_is_never_markup(told: tuple[StoryResult, dict[str, str]]) -> None:
    story, texts = told
    page = render_html(story, texts)
    parser = _Elements()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("script") == 2  # the data block and the page's own script
    assert {"img", "textarea", "b"}.isdisjoint(tags)
    assert "<script>window" not in page and "<img" not in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page  # shown, as text
    assert "&lt;b&gt;Hostile&lt;/b&gt; &amp; Co" in page
    # The data block parses back to the exact texts.
    block = page.split('<script type="application/json" id="story-texts">', 1)[1]
    data = json.loads(block.split("</script>", 1)[0])
    assert {k: v["text"] for k, v in data.items()} == texts


def test_csp_allows_only_the_inline_style_and_script(
    told: tuple[StoryResult, dict[str, str]],
) -> None:
    page = render_html(*told)
    parser = _Elements()
    parser.feed(page)
    (policy,) = [
        a["content"] for _, a in parser.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    directives = dict(d.strip().split(" ", 1) for d in (policy or "").split(";"))
    assert directives["default-src"] == "'none'"
    # Each hash is the hash of the element's exact content, or the browser would refuse it.
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    script = page.rsplit("<script>", 1)[1].split("</script>", 1)[0]
    assert directives["style-src"] == f"'{sha256_source(style)}'"
    assert directives["script-src"] == f"'{sha256_source(script)}'"
    assert all(a.get("src") is None for _, a in parser.tags)
    assert all((a.get("href") or "#").startswith("#") for _, a in parser.tags)


def test_render_story_html_needs_the_texts(told: tuple[StoryResult, dict[str, str]]) -> None:
    story, texts = told
    assert render_story(story, "html", texts=texts) == render_html(story, texts)
    with pytest.raises(ValueError, match="texts"):
        render_story(story, "html")
    with pytest.raises(ValueError, match="a2"):
        render_html(story, {"a1": texts["a1"]})


# --- in the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_path()
    if binary is None:
        pytest.fail(
            "Chromium is not installed: the story page's browser test needs it. Run scripts/setup "
            "as root (it apt-get installs the Debian package `chromium`), or set CHROMIUM to a "
            "Chromium binary."
        )
    return binary


@pytest.fixture
def page_url(tmp_path: Path, told: tuple[StoryResult, dict[str, str]]) -> str:
    path = tmp_path / "story.html"
    path.write_text(render_html(*told), encoding="utf-8")
    return path.as_uri()


@pytest.fixture
def browser(chromium: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Chromium]:
    width, height = getattr(request, "param", (1280, 900))
    with Chromium(chromium, tmp_path / "profile", width=width, height=height) as running:
        yield running


def marks(browser: Chromium) -> list[str]:
    found: list[str] = browser.evaluate(
        "[...document.querySelectorAll('#reader-text mark')].map(m => m.textContent)"
    )
    return found


def mark_is_visible(browser: Chromium) -> Any:
    """Whether the first mark lies inside both the window and the reader's scrolled pane."""
    return browser.evaluate(
        "(() => { const m = document.querySelector('#reader-text mark').getBoundingClientRect();"
        " const pane = document.getElementById('reader-text').getBoundingClientRect();"
        " return m.height > 0 && m.top >= Math.max(pane.top, 0) - 1"
        " && m.bottom <= Math.min(pane.bottom, window.innerHeight) + 1; })()"
    )


@pytest.mark.slow
def test_clicking_a_cell_highlights_exactly_its_span(
    browser: Chromium, page_url: str, told: tuple[StoryResult, dict[str, str]]
) -> None:
    story, texts = told
    browser.open(page_url)
    # a2 has three astral code points (emoji) before this span: JavaScript counts six units.
    claim_id, support = support_in(story, "a2", containing="first visit")
    start, end = support.span
    rows = {row.claim_id: row.cells for row in story.matrix}
    assert rows[claim_id]["a2"] is Cell.STATES
    assert marks(browser) == []
    browser.click(f'#claim-{claim_id} button[data-source="a2"]')
    assert marks(browser) == [texts["a2"][start:end]]
    assert mark_is_visible(browser)
    assert browser.evaluate("document.getElementById('reader-title').textContent") == (
        "<b>Hostile</b> & Co"
    )
    # Another cell replaces the highlight rather than adding to it.
    claim_id, support = support_in(story, "a1", containing="Children")
    browser.click(f'#claim-{claim_id} button[data-source="a1"]')
    assert marks(browser) == [texts["a1"][support.span[0] : support.span[1]]]


@pytest.mark.slow
def test_the_page_makes_no_request_and_hostile_markup_never_runs(
    browser: Chromium, page_url: str, told: tuple[StoryResult, dict[str, str]]
) -> None:
    story, texts = told
    browser.open(page_url)
    claim_id, support = support_in(story, "a2", containing="<script>")
    browser.click(f'#claim-{claim_id} button[data-source="a2"]')
    (shown,) = marks(browser)
    assert shown == texts["a2"][support.span[0] : support.span[1]]
    assert HOSTILE_MARKUP[:40] in shown  # the markup is shown as text
    # Nothing of the article became an element, and nothing of it ran.
    assert browser.evaluate("typeof window.pwned") == "undefined"
    assert browser.evaluate("document.scripts.length") == 2
    assert browser.evaluate("document.querySelectorAll('img, textarea, iframe, b').length") == 0
    # The one request is the page itself; nothing was refused either (a CSP refusal is logged,
    # so the page's own style and script match their hashes and nothing else tried to load).
    assert browser.requests() == [page_url]
    assert browser.console_problems() == []


@pytest.mark.slow
@pytest.mark.parametrize("browser", [(390, 800)], indirect=True)
def test_on_a_narrow_screen_the_article_opens_over_the_table(
    browser: Chromium, page_url: str, told: tuple[StoryResult, dict[str, str]]
) -> None:
    story, texts = told
    browser.open(page_url)
    assert browser.evaluate("getComputedStyle(document.getElementById('reader')).display") == "none"
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page
    claim_id, support = support_in(story, "a1", containing="treaty")
    browser.click(f'#claim-{claim_id} button[data-source="a1"]')
    assert browser.evaluate("getComputedStyle(document.getElementById('reader')).display") == "flex"
    assert marks(browser) == [texts["a1"][support.span[0] : support.span[1]]]
    assert mark_is_visible(browser)


@pytest.mark.slow
def test_the_command_writes_the_page_with_each_kept_articles_text(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    # A repeat first: the story drops it and numbers the rest a1, a2, so a text matched to its
    # source by position instead of by content would land in the wrong column.
    for name, text in (("calm.txt", CALM), ("calm-again.txt", CALM), ("hostile.txt", HOSTILE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    out = tmp_path / "story.html"
    env = {"OPENAI_API_KEY": "sk-test-story", "SUMMARIZER_TIMEOUT": "5"}
    args = ["calm.txt", "calm-again.txt", "hostile.txt", "--mode", "extractive", "-f", "html"]
    url = openai_server.base_url
    result = run_summarizer("story", *args, "-o", str(out), "--base-url", url, env=env)
    assert result.returncode == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    block = page.split('<script type="application/json" id="story-texts">', 1)[1]
    data = json.loads(block.split("</script>", 1)[0])
    assert {k: (v["path"], v["text"]) for k, v in data.items()} == {
        "a1": ("a1 · calm.txt", CALM),
        "a2": ("a2 · hostile.txt", HOSTILE),
    }
