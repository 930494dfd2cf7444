"""The web page in a real headless Chromium (Debian's `chromium`, driven by Playwright through
`executable_path`; nothing is downloaded) against a real server on 127.0.0.1: a German query finds the
French sentence, a German sentence is translated with its language detected, a Spanish question gets the
support bot's Spanish answer, and an endpoint with no model shows its error without breaking the page.

The server serves the shipped xling-mini (encoder, index, bot) and xling-mt-bible (translator), a detector
trained here on the bundled sample in seconds, an index of a few sample sentences in four languages (none
German), and the bot over the bundled FAQ; no classifier, so the sentiment box meets a 503. Skips, saying
why, when Chromium, Playwright or the serving and bot packages are missing.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# sample sentence ids indexed in every INDEX_LANGUAGES language; everyday.023 is "Where is the station?"
INDEX_IDS = ("everyday.004", "everyday.013", "everyday.019", "everyday.023", "everyday.028", "everyday.034",
             "everyday.036", "everyday.039", "everyday.050", "everyday.058")  # fmt: skip
INDEX_LANGUAGES = ("fra", "eng", "spa", "rus")  # no German: the German query finds other languages only
QUERY = "Wo ist der Bahnhof?"
FRENCH = "Où est la gare ?"
SPANISH_QUESTION = "¿Cuántos años de garantía tienen los productos?"  # questions.spa.tsv: warranty
TIMEOUT_MS = 15_000


def sample_sentences(language: str) -> dict[str, str]:
    """Return the bundled parallel sample of one language: id -> sentence."""
    from xling.data.sources import sample_corpus_dir

    lines = (sample_corpus_dir() / f"{language}.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if line.strip())


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> Iterator[str]:
    """Return the URL of a running `xling serve` app (uvicorn in a thread) over the models built here."""
    pytest.importorskip("xling.serving.app", reason="the serving package is not importable")
    pytest.importorskip("xling.bot", reason="the support-bot package (xling.bot) is not importable")
    import uvicorn

    from xling.bot import build_bot
    from xling.bot.faq import sample_faq_dir
    from xling.data.documents import Document
    from xling.embeddings.encoder import Encoder
    from xling.langid.features import FeatureConfig
    from xling.langid.train import LangidDataConfig, LangidTrainConfig, train_identifier
    from xling.retrieval.index import SearchIndex
    from xling.serving.app import create_app
    from xling.serving.config import ServeConfig

    root = tmp_path_factory.mktemp("browser")
    detector = root / "detector"
    train_identifier(LangidTrainConfig(  # the tiny detector of tests/langid: the sample's 9 languages
        output=str(detector), data=LangidDataConfig(corpora=["sample"], min_examples_per_label=600),
        family="linear", prior_weight=0.0, features=FeatureConfig(buckets=2**14), dim=16, epochs=3, lr=0.03, threads=1,
    ))  # fmt: skip
    encoder = Encoder.load("xling-mini")
    documents = []
    for language in INDEX_LANGUAGES:
        sentences = sample_sentences(language)
        documents += [Document(sentences[key], language, f"{language}:{key}") for key in INDEX_IDS]
    index, _ = SearchIndex.build(root / "index", encoder, documents, model="xling-mini")
    index.close()
    bot = build_bot(sample_faq_dir(), root / "bot", encoder=encoder)

    config = ServeConfig(detector=str(detector), classifier=None, indexes={"sample": str(root / "index")},
                         bot=str(bot), log_level="warning")  # fmt: skip
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:  # set once the lifespan has loaded the models and the socket listens
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def test_page_in_chromium(browser, server_url, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(server_url + "/")
    page.wait_for_selector("body.ready")  # /languages answered and the target list is filled
    assert page.title() == "xling"

    # search: a German query finds the French sentence among results in several languages, each labelled
    page.fill("#search-query", QUERY)
    page.click("#search-button")
    wait_for(page, "#search-results li.hit", "#search-error")
    hits = page.locator("#search-results li.hit")
    languages = hits.evaluate_all("items => items.map(item => item.dataset.language)")
    texts = hits.locator(".text").all_inner_texts()
    assert FRENCH in texts, texts
    assert languages[texts.index(FRENCH)] == "fra"
    assert len(set(languages)) > 1 and "deu" not in languages
    assert "French" in hits.nth(texts.index(FRENCH)).locator(".lang").inner_text()
    shown = hits.locator(".score").all_inner_texts()
    assert all(re.fullmatch(r"-?\d\.\d{3}", score) for score in shown), shown
    assert [float(score) for score in shown] == sorted(map(float, shown), reverse=True)

    # translate: the source is detected (German), the target chosen from GET /languages (English by default)
    assert page.input_value("#translate-target") == "en"
    page.fill("#translate-input", QUERY)
    page.click("#translate-button")
    wait_for(page, "#translate-output:not(:empty)", "#translate-error")
    translated = page.inner_text("#translate-output")
    assert translated.strip() and translated.strip() != QUERY
    assert "German" in page.inner_text("#translate-detected")
    assert page.is_hidden("#translate-error")

    # sentiment: no classifier is configured, so the API's 503 is shown as a message and nothing breaks
    page.fill("#sentiment-input", "Excelente producto, llegó rápido.")
    page.click("#sentiment-button")
    page.wait_for_selector("#sentiment-error:not([hidden])")
    assert "503" in page.inner_text("#sentiment-error")
    assert page.is_enabled("#sentiment-button")

    # the support bot: asked in Spanish, it answers with the FAQ's stored Spanish answer
    page.fill("#chat-input", SPANISH_QUESTION)
    page.click("#chat-button")
    reply = wait_for(page, "#chat-log li.bot", "#chat-error")
    from xling.bot.faq import sample_faq_dir

    answers = (Path(str(sample_faq_dir())) / "answers.spa.tsv").read_text(encoding="utf-8").splitlines()
    spanish = dict(line.split("\t", 1) for line in answers if line.strip())
    assert reply.get_attribute("data-language") == "spa"
    assert reply.query_selector("p").inner_text() == spanish["warranty"]
    assert reply.query_selector("small.source") is None  # stored in Spanish: no "machine translation" note
    assert page.inner_text("#chat-log li.user") == SPANISH_QUESTION

    # an API key pasted with a character a header cannot carry is named, not "cannot reach the server"
    page.click("#settings summary")
    page.fill("#api-key", "k1\u200b")
    page.fill("#sentiment-input", "Excelente producto.")
    page.click("#sentiment-button")
    page.wait_for_selector("#sentiment-error:not([hidden])")
    assert "API key holds characters" in page.inner_text("#sentiment-error")
    page.fill("#api-key", "")
    # new results are announced to screen readers
    for region in ("#search-results", "#translate-output", "#sentiment-output", "#chat-log"):
        assert page.get_attribute(region, "aria-live") == "polite", region

    screenshot = tmp_path / "page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert not script_errors, script_errors
    page.close()


def test_api_docs_render_offline_in_chromium(browser, server_url):
    """Swagger UI at /docs lists the API's operations with every request to another host refused, as on a
    server without internet (FastAPI's own page fetches Swagger UI from a CDN and stays blank there)."""
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []

    def only_this_server(route) -> None:
        if route.request.url.startswith(server_url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server_url + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/v1/embeddings", "/translate", "/v1/answer"} <= {path.strip() for path in paths}, paths
    assert not outside, outside
    page.close()


def wait_for(page, selector: str, error_box: str):
    """Return the element `selector` once it shows; fail with the page's message if `error_box` shows first."""
    page.wait_for_selector(f"{selector}, {error_box}:not([hidden])")
    error = page.query_selector(f"{error_box}:not([hidden])")
    if error is not None:
        pytest.fail(f"the page shows an error instead of {selector}: {error.inner_text()}")
    return page.query_selector(selector)
