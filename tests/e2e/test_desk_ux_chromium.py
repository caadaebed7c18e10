"""The agent's workspace for a whole shift and the board that flags trouble, in headless Chromium.

One server (fake AMI: this is about the pages; the wrap-up hold itself is checked on the real
sandbox in tests/integration/callcenter/agents/test_agent_desk_asterisk.py) and one browser for
the module. The call's life is driven through the desk's own inputs (ringing, answered, ended,
the member events Asterisk would send), as the call tracker and the AMI bridge would.

Covers: controls that match the state and where focus goes, the keyboard shortcuts, wrap-up
that lasts until the disposition with one pop at a time, the compact pop, the board's
thresholds (coloured and announced), handled calls and sorting, pages that fit a 390 px phone
(screenshots, into docs/img/ with CALLCENTER_DOCS_SCREENSHOTS=1), and axe-core on every
console page.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callcenter.agents.member_events import MemberEvent, MemberEventKind
from callcenter.agents.notifier import AgentStateChanged, ScreenPopChanged
from callcenter.ami.events import AmiEvent, Headers
from callcenter.calls.state import AgentRinging, CallAnswered, CallEnded
from hcrm_core.actors import Actor
from hcrm_core.models import Allergy, Call, CallDirection, ChronicCondition, Patient
from hcrm_core.services.users import set_extension, user_by_name
from tests.conftest import require_or_skip
from tests.e2e.test_console_chromium import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS
from tests.support.browser import page_as
from tests.support.console import ConsoleWorld, start_console_world
from tests.support.factories import make_patient
from tests.support.fake_ami import FakeAmi
from tests.support.rig import Recorder

WAIT = 10.0
EXTENSION = "1001"
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
# The screenshots refresh docs/img only when asked (CALLCENTER_DOCS_SCREENSHOTS=1): a test run
# must not leave the checkout changed.
WRITE_DOCS_IMG = os.environ.get("CALLCENTER_DOCS_SCREENSHOTS") == "1"
WIDTHS = (1400, 1024, 390)


@pytest.fixture(scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    from playwright.async_api import async_playwright

    from web_console.app import create_app

    if shutil.which(CHROMIUM) is None:  # a failure in CI (CALLCENTER_TEST_REQUIRE_ALL=1)
        require_or_skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    fake = FakeAmi(secret="not-used")
    fake.succeed |= {"queueadd", "queueremove", "queuepause"}
    await fake.start()
    world = await start_console_world(tmp_path_factory.mktemp("ux") / "data", ami_port=fake.port)
    runner = web.AppRunner(create_app(world.server.console_deps()), access_log=None)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await world.server.ami.wait_ready(WAIT)
            alice = await user_by_name(world.server.database, "alice")
            await set_extension(world.server.database, alice.id, EXTENSION, Actor.system())
            await _alerts_for_grace(world)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            yield {
                "base": f"http://{host}:{port}",
                "world": world,
                "fake": fake,
                "browser": browser,
                "app": runner.app,
            }
        finally:
            await browser.close()
            await runner.cleanup()
            await world.server.stop()
            await fake.stop()


async def _alerts_for_grace(world: ConsoleWorld) -> None:
    async with world.server.database.transaction() as session:
        grace = await session.get(Patient, world.grace.id)
        assert grace is not None
        grace.vip = True
        session.add(Allergy(patient_id=grace.id, substance="Penicillin", severity="severe"))
        session.add(ChronicCondition(patient_id=grace.id, code="E11", name="Type 2 diabetes"))


async def _page(rig: dict[str, Any], username: str, target: str, width: int = 1400) -> Any:
    return await page_as(
        rig["browser"], rig["base"], username, target, timeout_ms=TIMEOUT_MS, width=width
    )


async def _ring(world: ConsoleWorld, patient_id: int | None, number: str) -> tuple[str, str]:
    """A queue call rings Alice: the pop opens (with the patient's card when known)."""
    linkedid = f"cc-{uuid.uuid4().hex[:12]}"
    async with world.server.database.transaction() as session:
        session.add(
            Call(
                linkedid=linkedid,
                direction=CallDirection.INBOUND,
                started_at=datetime.now(UTC),
                patient_id=patient_id,
                ivr_context={},
            )
        )
    recorder = Recorder(world.server.bus)
    interface = world.server.desk.agents.require("alice").interface
    world.server.desk.pops.on_ringing(
        AgentRinging(
            linkedid, "appointments", interface, "alice", number, None, 35.0, datetime.now(UTC)
        )
    )
    await recorder.wait_for(
        ScreenPopChanged,
        lambda c: c.pop["linkedid"] == linkedid and c.pop["match"] != "pending",
        timeout=WAIT,
    )
    return linkedid, interface


def _member(world: ConsoleWorld, kind: MemberEventKind, linkedid: str, interface: str) -> None:
    """What Asterisk says of Alice's phone (AgentConnect, AgentComplete)."""
    world.server.desk.agents.on_member_event(
        MemberEvent(kind, "appointments", interface, "alice", linkedid, time.time())
    )


async def _answer_and_end(world: ConsoleWorld, linkedid: str, interface: str) -> None:
    world.server.desk.pops.on_answered(
        CallAnswered(linkedid, "appointments", interface, 35.0, datetime.now(UTC))
    )
    _member(world, MemberEventKind.CONNECT, linkedid, interface)
    world.server.desk.pops.on_ended(CallEnded(linkedid, "completed", False, 16, datetime.now(UTC)))
    _member(world, MemberEventKind.COMPLETE, linkedid, interface)


def _pauses(fake: FakeAmi) -> list[tuple[str, str]]:
    return [(a.get("Paused", ""), a.get("Reason", "")) for a in fake.actions("queuepause")]


async def _wide_elements(page: Any) -> list[str]:
    """Elements wider than the viewport, or reaching past its right edge (none allowed)."""
    return await page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const out = [];
          for (const node of document.querySelectorAll("body *")) {
            const box = node.getBoundingClientRect();
            if (!box.width || getComputedStyle(node).visibility === "hidden") continue;
            if (box.width > width + 1 || box.right > width + 1) {
              const name = `${node.tagName.toLowerCase()}#${node.id}.${node.className}`;
              out.push(`${name} ${Math.round(box.width)}px`);
            }
          }
          const page = document.documentElement.scrollWidth;
          if (page > width + 1) out.push(`page ${page}px`);
          return out;
        }"""
    )


async def test_controls_match_the_state_focus_and_shortcuts(rig) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    world = rig["world"]
    page = await _page(rig, "alice", "/desk")
    try:
        await expect(page.locator("#desk-link")).to_have_attribute("data-state", "open")
        await page.locator("#extension").focus()
        await page.keyboard.press("Enter")
        state = page.locator("#agent-state")
        await expect(state).to_have_attribute("data-state", "ready")
        # Signed in: the extension box and the sign-in button are gone; focus is on the state.
        await expect(page.locator("#extension")).to_be_hidden()
        await expect(page.locator("#sign-in")).to_be_hidden()
        await expect(state).to_be_focused()
        await expect(page.locator("#pause")).to_be_visible()
        await expect(page.locator("#resume")).to_be_hidden()
        # Alt+P pauses (with the chosen reason): only Resume shows, and has the focus.
        await page.locator("#pause-reason").select_option("lunch")
        await page.locator("body").press("Alt+p")
        await expect(state).to_have_attribute("data-state", "paused")
        await expect(page.locator("#agent-reason")).to_have_text("(Lunch)")
        await expect(page.locator("#pause")).to_be_hidden()
        await expect(page.locator("#resume")).to_be_visible()
        await expect(page.locator("#resume")).to_be_focused()
        assert world.server.desk.agents.require("alice").pause_reason == "lunch"
        # Alt+R: ready again, Pause back.
        await page.keyboard.press("Alt+r")
        await expect(state).to_have_attribute("data-state", "ready")
        await expect(page.locator("#resume")).to_be_hidden()
        await expect(page.locator("#pause")).to_be_focused()
        # The shortcuts are listed on the page.
        shortcuts = page.locator("#shortcut-list")
        await expect(shortcuts).to_contain_text("Ready (resume taking calls)")
        await expect(shortcuts).to_contain_text("Wrap-up done")
    finally:
        await page.close()


async def test_wrap_up_lasts_until_the_disposition_with_one_pop_at_a_time(rig) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    world, fake = rig["world"], rig["fake"]
    page = await _page(rig, "alice", "/desk")
    try:
        state = page.locator("#agent-state")
        if world.server.desk.agents.status("alice") is None:
            await page.click("#sign-in")
        await expect(state).to_have_attribute("data-state", "ready")
        first, interface = await _ring(world, world.grace.id, "+12125550142")
        pop1 = page.locator(f'#pops .pop[data-linkedid="{first}"]')
        # The compact pop: identity and alerts in the header, in chips of one style.
        await expect(pop1.locator(".pop-record")).to_have_text("MRN-4242")
        alerts = pop1.locator(".pop-alerts")
        await expect(alerts.locator(".flag")).to_have_text(
            ["VIP", "Allergy: Penicillin (severe)", "Type 2 diabetes"]
        )
        chip = await alerts.locator(".flag.vip").evaluate("(n) => getComputedStyle(n).borderRadius")
        assert chip == await alerts.locator(".flag.chronic").evaluate(
            "(n) => getComputedStyle(n).borderRadius"
        )
        # Actions come before the history; empty history is one line.
        order = await pop1.evaluate(
            "(p) => [...p.querySelectorAll('.pop-actions, .pop-identity')].map((n) => n.className)"
        )
        assert order == ["pop-actions", "pop-identity"]
        await expect(pop1.locator(".pop-empty")).to_have_text(
            "No previous calls, no open complaints, no follow-up tasks."
        )

        paused_before = len(_pauses(fake))
        await _answer_and_end(world, first, interface)
        await expect(state).to_have_attribute("data-state", "wrap_up")
        # Wrap-up holds the phone out of the queues until the disposition: no timer ends it.
        await fake.wait_for(lambda: ("true", "wrap-up") in _pauses(fake)[paused_before:])
        assert world.server.settings.agents.wrapup_until_disposition
        # A second call (e.g. one the agent placed) arrives: only one pop is shown at a time.
        second, _ = await _ring(world, None, "+12125550199")
        pop2 = page.locator(f'#pops .pop[data-linkedid="{second}"]')
        await expect(pop2).to_be_visible()
        await expect(pop1).to_be_hidden()
        waiting = page.locator("#pop-queue .show-pop")
        await expect(waiting).to_have_count(1)
        await expect(waiting).to_contain_text("Grace")
        world.server.desk.pops.on_answered(
            CallAnswered(second, "appointments", interface, 1.0, datetime.now(UTC))
        )
        await expect(pop2).to_have_attribute("data-phase", "answered")
        world.server.desk.pops.on_ended(
            CallEnded(second, "completed", False, 16, datetime.now(UTC))
        )
        await expect(pop2).to_have_attribute("data-phase", "ended")
        # Alt+W saves and closes the call shown; focus moves on to the call still waiting.
        await pop2.locator(".disposition").select_option("wrong_number")
        await page.keyboard.press("Alt+w")
        await expect(pop2).to_have_count(0)
        await expect(pop1).to_be_visible()
        await expect(pop1).to_be_focused()
        await expect(state).to_have_attribute("data-state", "wrap_up")  # still Grace's call
        # Wrap-up with a pop to save cannot be skipped (the route is for calls without one).
        refused = await page.evaluate(
            """() => window.consoleApi("/api/v1/desk/wrap-up/finish", {method: "POST", body: {}})
                .then(() => null, (e) => [e.status, e.data.field])"""
        )
        assert refused == [422, "disposition"]
        await expect(page.locator("#finish-wrap-up")).to_be_hidden()
        await pop1.locator(".disposition").select_option("information")
        await pop1.locator(".save-disposition").click()
        await expect(pop1).to_have_count(0)
        await expect(page.locator("#no-pops")).to_be_focused()
        await expect(state).to_have_attribute("data-state", "ready")
        # The phone was given back to the queues once the disposition was saved.
        assert _pauses(fake)[-1] == ("false", "")
        # A wrap-up whose call has no pop (e.g. after a restart) is finished with the button.
        orphan = f"cc-{uuid.uuid4().hex[:12]}"
        _member(world, MemberEventKind.CONNECT, orphan, interface)
        _member(world, MemberEventKind.COMPLETE, orphan, interface)
        await expect(state).to_have_attribute("data-state", "wrap_up")
        await page.locator("#finish-wrap-up").click()
        await expect(state).to_have_attribute("data-state", "ready")
        await expect(page.locator("#finish-wrap-up")).to_be_hidden()
        assert _pauses(fake)[-1] == ("false", "")
    finally:
        await page.close()


def _publish(world: ConsoleWorld, name: str, received_at: float, **headers: str) -> None:
    world.server.bus.publish(
        AmiEvent(name, Headers(list(headers.items())), received_at=received_at)
    )


async def test_the_board_flags_trouble_and_sorts(rig) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    world = rig["world"]
    now = time.time()
    board = await _page(rig, "sam", "/supervisor")
    try:
        await expect(board.locator("#board-link")).to_have_attribute("data-state", "open")
        for interface, name, paused in (
            ("PJSIP/7001", "Zoe Zhang", "1"),
            ("PJSIP/7002", "Adam Abbott", "1"),
        ):
            _publish(
                world,
                "QueueMemberAdded",
                now,
                Queue="appointments",
                Interface=interface,
                MemberName=name,
                Status="1",
                Paused=paused,
                PausedReason="lunch",
            )
        # A caller has waited 4 minutes and nobody is ready: red, in words, announced.
        _publish(
            world,
            "QueueCallerJoin",
            now - 240,
            Queue="appointments",
            Uniqueid="waiting-1",
            Linkedid="waiting-1",
            Position="1",
        )
        row = board.locator('#board-queues tr[data-queue="appointments"]')
        await expect(row).to_have_attribute("data-level", "alert")
        await expect(row.locator("td.longest")).to_have_class("longest level-alert")
        await expect(row.locator("td.members")).to_have_class("members level-alert")
        await expect(row.locator("td.trouble")).to_contain_text("nobody ready while 1 caller waits")
        colour = await row.locator("td.members").evaluate(
            "(n) => getComputedStyle(n).backgroundColor"
        )
        assert colour == "rgb(179, 38, 30)"
        alerts = board.locator("#board-alerts")
        await expect(alerts).to_have_attribute("aria-live", "polite")
        await expect(alerts).to_contain_text("Appointments: a caller has waited 4:0")
        await expect(alerts).to_contain_text("nobody ready while 1 caller waits (urgent)")
        # Sortable: by name ascending, then descending on a second click.
        names = board.locator("#board-agents tbody tr td:first-child")
        await expect(names).to_have_text(["Adam Abbott", "alice", "Zoe Zhang"])
        heading = board.locator("#board-agents th[data-sort=name]")
        await heading.locator("button").click()
        await expect(heading).to_have_attribute("aria-sort", "descending")
        await expect(names).to_have_text(["Zoe Zhang", "alice", "Adam Abbott"])
        await expect(board.locator("#board-agents th[data-sort=handled]")).to_have_text(
            "Handled today"
        )
        # An agent in wrap-up past the limit is flagged, and "Current call" names the call.
        assert world.server.board.service.state.wrapup_max_seconds == 180
        world.server.bus.publish(
            AgentStateChanged(
                "zoe",
                {
                    "interface": "PJSIP/7001",
                    "username": "zoe",
                    "state": "wrap_up",
                    "since": time.time() - 200,
                    "pause_reason": "",
                },
            )
        )
        zoe = board.locator('#board-agents tr[data-interface="PJSIP/7001"]')
        await expect(zoe.locator(".state")).to_have_text("Wrap-up (over 3:00)")
        await expect(zoe.locator(".state")).to_have_class("state wrap_up overdue")
        # The caller left: the queue is only amber (nobody ready).
        _publish(world, "QueueCallerLeave", time.time(), Queue="appointments", Uniqueid="waiting-1")
        await expect(row).to_have_attribute("data-level", "warn")
    finally:
        await board.close()


async def test_desk_pop_and_board_fit_every_width(rig, tmp_path) -> None:
    """Screenshots at 1400, 1024 and 390 px (docs/img/ when asked, see WRITE_DOCS_IMG);
    nothing is wider than the viewport. A Mandarin name renders with the CJK font."""
    from playwright.async_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    world = rig["world"]
    policy = world.server.settings.booking_policy()
    mei = await make_patient(
        world.server.database,
        policy,
        given_name="美玲",
        family_name="王",
        phones=("(212) 555-0177",),
    )
    async with world.server.database.transaction() as session:
        session.add(Allergy(patient_id=mei.id, substance="Latex", severity="moderate"))
        session.add(ChronicCondition(patient_id=mei.id, code="I10", name="Hypertension"))
    shots = DOCS_IMG if WRITE_DOCS_IMG else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    if world.server.desk.agents.status("alice") is None:
        await world.server.desk.agents.sign_in(world.agent_id, "alice", EXTENSION)
    linkedid, interface = await _ring(world, mei.id, "+12125550177")
    world.server.desk.pops.on_answered(
        CallAnswered(linkedid, "appointments", interface, 35.0, datetime.now(UTC))
    )
    problems: dict[str, list[str]] = {}
    try:
        for width in WIDTHS:
            desk = await _page(rig, "alice", "/desk", width)
            pop = desk.locator(f'#pops .pop[data-linkedid="{linkedid}"]')
            await expect(pop.locator(".pop-title")).to_contain_text("美玲")
            await desk.screenshot(path=str(shots / f"desk-{width}.png"), full_page=True)
            await pop.screenshot(path=str(shots / f"pop-{width}.png"))
            problems[f"desk {width}"] = await _wide_elements(desk)
            # The name is drawn in a CJK font, not as empty boxes.
            glyphs = await desk.evaluate(
                "() => document.fonts.check('16px \"Noto Sans CJK SC\"', '美玲')"
            )
            assert glyphs, "install fonts-noto-cjk (scripts/setup.sh)"
            await desk.close()
            board = await _page(rig, "sam", "/supervisor", width)
            await expect(board.locator("#board-link")).to_have_attribute("data-state", "open")
            await expect(board.locator("#board-agents tbody tr").first).to_be_visible()
            await board.screenshot(path=str(shots / f"board-{width}.png"), full_page=True)
            problems[f"board {width}"] = await _wide_elements(board)
            whoami = board.locator("#whoami")
            colours = await whoami.evaluate(
                """(n) => {
                  let bg = n; let c = "rgba(0, 0, 0, 0)";
                  while (bg && (c === "rgba(0, 0, 0, 0)" || c === "transparent")) {
                    c = getComputedStyle(bg).backgroundColor; bg = bg.parentElement;
                  }
                  return [getComputedStyle(n).color, c];
                }"""
            )
            assert colours[0] != colours[1], f"the user's name is unreadable at {width}px"
            await board.close()
    finally:
        world.server.desk.pops.on_ended(
            CallEnded(linkedid, "completed", False, 16, datetime.now(UTC))
        )
    assert problems == {key: [] for key in problems}, json.dumps(problems, indent=1)


async def test_every_console_page_passes_axe(rig) -> None:
    """No serious or critical axe-core violation on any console page: every GET page the app
    serves (pages other parts add are checked as soon as they exist), as an admin, plus the
    agent's own desk and a patient's card."""
    from axe_playwright_python.async_playwright import Axe

    world = rig["world"]
    axe = Axe()
    found: dict[str, list[str]] = {}
    login = await rig["browser"].new_page()
    await login.goto(f"{rig['base']}/login")
    found["/login"] = _serious((await axe.run(login)).response)
    await login.close()
    visits = [("alice", "/desk"), ("alice", f"/patients/{world.grace.id}")]
    visits += [("ada", path) for path in _console_pages(rig["app"])]
    for user in ("alice", "ada"):
        page = await _page(rig, user, "/")
        try:
            for who, path in visits:
                if who != user:
                    continue
                response = await page.goto(f"{rig['base']}{path}")
                if response is None or "text/html" not in response.headers.get("content-type", ""):
                    continue
                found[f"{path} ({user})"] = _serious((await axe.run(page)).response)
        finally:
            await page.close()
    assert len(found) >= 12, sorted(found)
    assert found == {path: [] for path in found}, json.dumps(found, indent=1)


_NOT_PAGES = ("/api", "/static", "/ws", "/logout", "/login", "/metrics", "/health", "/openapi")


def _console_pages(app: web.Application) -> list[str]:
    """The app's GET routes without path parameters that are pages (not the API or files)."""
    paths = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path")
        if route.method == "GET" and path and not path.startswith(_NOT_PAGES):
            if path.endswith((".csv", ".json", ".wav", ".mp3")):
                continue
            paths.add(path)
    return sorted(paths)


def _serious(response: dict[str, Any]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in response.get("violations", [])
        if v.get("impact") in ("serious", "critical")
    ]
