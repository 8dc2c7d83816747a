"""The web console in a real browser: Debian's headless Chromium driven by Selenium through the
system chromedriver (never a downloaded browser). Screenshots go to test-artefacts/console/."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.app import App, build_app
from flows import payloads as pl
from flows.payloads import Action
from tests.conftest import make_settings
from tests.helpers.chat import Chat
from tests.helpers.console import PASSWORD, add_account

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "console"
T = TypeVar("T")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        "no /usr/bin/chromium and /usr/bin/chromedriver: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


class Server:
    """The console on its own event loop in a thread, as `poradna web` serves it."""

    def __init__(self, app_settings: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.app: App = self.run(build_app(app_settings, migrate=True))
        from bot.web import serve

        self.runner = self.run(serve(self.app, "127.0.0.1", 0))
        site = next(iter(self.runner.sites))
        self.base = site.name.rstrip("/")

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def close(self) -> None:
        self.run(self.runner.cleanup())
        self.run(self.app.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def _outdated_content(tmp_path: Path) -> Path:
    """The shipped FAQ with the English answer of health-insurance changed: its nine
    translations were made from the older one."""
    from faq.loader import CONTENT_DIR

    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    path = content / "health-insurance.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "    answer: |\n"
    first = text.index(marker) + len(marker)
    path.write_text(text[:first] + "      Updated in December.\n" + text[first:], encoding="utf-8")
    return content


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
        staff_language="en",
        faq_dir=_outdated_content(tmp_path),
    )
    running = Server(settings)
    try:
        yield running
    finally:
        running.close()


def _chromium(tmp_path: Path, name: str) -> Any:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tmp_path / ('profile-' + name)}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.implicitly_wait(0)
    return driver


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    first, second = _chromium(tmp_path, "a"), _chromium(tmp_path, "b")
    try:
        yield first, second
    finally:
        first.quit()
        second.quit()


def _login(driver: Any, server: Server, login: str) -> None:
    driver.get(f"{server.base}/desk/login")
    driver.find_element(By.NAME, "login").send_keys(login)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/desk/queue"))


def _flash(driver: Any) -> str:
    """The page's message (read in one go: the page may be changing)."""
    return str(driver.execute_script("return document.getElementById('flash')?.textContent || ''"))


def _shot(driver: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))


def _references(driver: Any) -> list[str]:
    """The queue's references, read in one go (htmx swaps the rows every 2 seconds)."""
    return list(
        driver.execute_script(
            "return [...document.querySelectorAll('#queue-rows tr[data-reference]')]"
            ".map(r => r.dataset.reference + (r.classList.contains('urgent') ? '!' : ''))"
        )
    )


def _plain(text: str) -> str:
    """Text without the bidi marks Arabic messages carry."""
    return "".join(ch for ch in text if ch not in "\u200f\u2066\u2067\u2068\u2069")


async def _urgent_request(app: App) -> None:
    chat = Chat(app.engine, channel="console", user="p2", client_lang="en")
    await chat.send("my husband beats me")
    await chat.send("777123456")
    await chat.press_payload(pl.yes_no(Action.CONSENT, yes=True))


def test_a_caseworker_works_a_case_in_the_browser(
    server: Server, browsers: tuple[Any, Any]
) -> None:
    jana, olga = browsers
    app = server.app
    person = Chat(app.engine, channel="console", user="p1", client_lang="ar")
    question = "<b>مرحبا</b> أحتاج مساعدة في تجديد الإقامة"
    server.run(person.request_callback("ar", question=question))
    for login in ("jana", "olga"):
        server.run(add_account(app, login))

    _login(jana, server, "jana")
    assert _references(jana) == ["R-0001"]
    Select(jana.find_element(By.NAME, "lang")).select_by_value("ru")
    jana.find_element(By.ID, "apply-filters").click()
    WebDriverWait(jana, 10).until(lambda d: "lang=ru" in d.current_url)
    assert _references(jana) == []
    Select(jana.find_element(By.NAME, "lang")).select_by_value("ar")
    jana.find_element(By.ID, "apply-filters").click()
    WebDriverWait(jana, 10).until(lambda d: "lang=ar" in d.current_url)
    assert _references(jana) == ["R-0001"]

    # An urgent request arrives: at the top, highlighted, without a reload.
    jana.get(f"{server.base}/desk/queue")
    jana.execute_script("window.notReloaded = true")
    server.run(_urgent_request(app))
    WebDriverWait(jana, 15).until(lambda d: _references(d)[:1] == ["R-0002!"])
    assert _references(jana) == ["R-0002!", "R-0001"]  # urgent first, highlighted
    assert jana.execute_script("return window.notReloaded") is True
    _shot(jana, "queue")

    # Both open the case; Jana claims it first, Olga's claim loses and says who has it.
    _login(olga, server, "olga")
    jana.get(f"{server.base}/desk/case/R-0001")
    olga.get(f"{server.base}/desk/case/R-0001")
    jana.find_element(By.ID, "claim").click()
    WebDriverWait(jana, 10).until(lambda d: "Jana" in _flash(d))
    olga.find_element(By.ID, "claim").click()
    WebDriverWait(olga, 10).until(lambda d: _flash(d))
    assert "already taken by Jana" in _flash(olga)

    # The thread shows the person's text as text, right-to-left where it is Arabic.
    entry = jana.find_element(By.CSS_SELECTOR, "#thread .person p")
    assert entry.text == question and entry.get_attribute("dir") == "auto"
    assert not jana.find_elements(By.CSS_SELECTOR, "#thread b")
    _shot(jana, "case-arabic")

    jana.find_element(By.ID, "reply-text").send_keys("سنتصل بك غدًا صباحًا.")
    jana.find_element(By.ID, "reply-send").click()
    WebDriverWait(jana, 10).until(lambda d: "Sent to the person" in _flash(d))
    # What the console person is shown when they come back to the chat.
    replies = server.run(app.engine.collect("console", "p1"))
    assert any("سنتصل بك غدًا صباحًا." in _plain(r.text) for r in replies), replies
    staff_entry = jana.find_elements(By.CSS_SELECTOR, "#thread .staff p")
    assert [_plain(e.text) for e in staff_entry] == ["سنتصل بك غدًا صباحًا."]
    # The person writes back and sends a photo: both in the case's thread, after the reply.
    server.run(person.send("شكرا، أنا متاح بعد العاشرة"))
    server.run(person.send_kind("photo", text="الرسالة"))
    jana.get(f"{server.base}/desk/case/R-0001")
    written = [_plain(e.text) for e in jana.find_elements(By.CSS_SELECTOR, "#thread .person p")]
    assert written[-3:-1] == ["شكرا، أنا متاح بعد العاشرة", "الرسالة"]
    assert jana.find_elements(By.CSS_SELECTOR, "#thread .person .media")

    jana.find_element(By.ID, "close").click()
    WebDriverWait(jana, 10).until(lambda d: "closed" in _flash(d))
    assert jana.find_element(By.ID, "status").text == "closed"
    closing = server.run(app.engine.collect("console", "p1"))
    assert [r.key for r in closing] == ["case-closed"]
    assert len(closing[0].flat_buttons) == 5  # the rating request


def test_a_coordinator_sees_an_outdated_translation_and_the_report(
    server: Server, browsers: tuple[Any, Any]
) -> None:
    petr, jana = browsers
    app = server.app
    server.run(add_account(app, "petr", role="coordinator"))
    server.run(add_account(app, "jana"))
    person = Chat(app.engine, channel="console", user="p1", client_lang="ar")
    server.run(person.request_callback("ar", question="تأمين صحي"))

    _login(petr, server, "petr")
    petr.get(f"{server.base}/desk/faq")
    cell = petr.find_element(By.CSS_SELECTOR, "td[data-topic='health-insurance'][data-lang='ar']")
    assert "outdated" in cell.get_attribute("class")
    other = petr.find_element(By.CSS_SELECTOR, "td[data-topic='lost-documents'][data-lang='ar']")
    assert "outdated" not in other.get_attribute("class")

    petr.get(f"{server.base}/desk/reports")
    charts = petr.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 5
    assert "ar" in charts[2].text and "console" in charts[3].text
    _shot(petr, "report")

    _login(jana, server, "jana")
    jana.get(f"{server.base}/desk/reports")
    assert "403" in jana.page_source
