"""Sessions, CSRF, roles and login throttling of the console."""

from __future__ import annotations

import pytest
from aiohttp import web
from sqlalchemy import select
from yarl import URL

from hcrm_core.models import AuditAction, AuditEvent
from tests.support.console import (
    PASSWORD,
    ConsoleWorld,
    csrf_from,
    forget_login_failures,
    login,
    session_cookie,
    use_only_session_cookie,
)
from web_console.access import STAFF, allow
from web_console.app import create_app
from web_console.throttle import LoginThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _login_audit(world: ConsoleWorld) -> list[AuditEvent]:
    async with world.server.database.session() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == AuditAction.LOGIN)
            .order_by(AuditEvent.id.desc())
        )
        return list(rows)


async def test_login_sets_an_httponly_samesite_session_and_audits_it(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    response = await login(client, "alice")
    assert response.status == 302
    assert response.headers["Location"] == "/"
    set_cookie = response.headers.getall("Set-Cookie")
    session_header = next(h for h in set_cookie if h.startswith("cc_session="))
    assert "HttpOnly" in session_header
    assert "SameSite=Lax" in session_header
    home = await client.get("/")
    assert home.status == 200
    assert "alice (agent)" in await home.text()
    latest = (await _login_audit(world))[0]
    assert latest.actor_user_id == world.agent_id
    assert latest.detail["outcome"] == "success"
    assert latest.source == "127.0.0.1"
    assert PASSWORD not in str(latest.detail)


async def test_wrong_password_gives_a_generic_401_and_no_session(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    response = await login(client, "alice", "wrong-password-123")
    assert response.status == 401
    assert "Wrong username or password" in await response.text()
    assert session_cookie(client) is None
    unknown = await login(client, "nobody", "wrong-password-123")
    assert unknown.status == 401
    latest = (await _login_audit(world))[0]
    assert latest.detail == {"outcome": "failure", "username": "nobody"}
    assert latest.actor_user_id is None


async def test_login_issues_a_new_session_id_and_retires_the_old_one(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    await login(client, "alice")
    first = session_cookie(client)
    assert first
    response = await client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(await (await client.get("/")).text()),
        },
        allow_redirects=False,
    )
    assert response.status == 302
    second = session_cookie(client)
    assert second and second != first
    use_only_session_cookie(client, first)
    assert (await client.get("/api/v1/patients?q=grace")).status == 401


async def test_logout_ends_the_session_on_the_server(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    await login(client, "alice")
    old = session_cookie(client)
    token = csrf_from(await (await client.get("/")).text())
    response = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login"
    # A copy of the cookie kept by an attacker (or the browser) no longer works.
    use_only_session_cookie(client, old)
    assert (await client.get("/api/v1/patients?q=grace")).status == 401
    page = await client.get("/patients", allow_redirects=False)
    assert page.status == 302
    assert page.headers["Location"].startswith("/login?next=")


async def test_an_idle_session_expires(world, aiohttp_client):
    clock = FakeClock()
    client = await aiohttp_client(create_app(world.server.console_deps(), clock=clock))
    await login(client, "alice")
    idle = world.server.settings.web.session_idle_minutes * 60
    clock.now += idle - 1
    assert (await client.get("/api/v1/patients?q=grace")).status == 200  # touches the session
    clock.now += idle - 1
    assert (await client.get("/api/v1/patients?q=grace")).status == 200
    clock.now += idle + 1
    assert (await client.get("/api/v1/patients?q=grace")).status == 401


async def test_state_changes_without_the_csrf_token_are_refused(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    # The login form itself is protected (double-submit token).
    no_token = await client.post(
        "/login", data={"username": "alice", "password": PASSWORD}, allow_redirects=False
    )
    assert no_token.status == 403
    assert session_cookie(client) is None
    await login(client, "alice")
    assert (await client.post("/logout", data={}, allow_redirects=False)).status == 403
    wrong = await client.post("/logout", data={"csrf_token": "forged"}, allow_redirects=False)
    assert wrong.status == 403
    odd = await client.post("/logout", data={"csrf_token": "żółw"}, allow_redirects=False)
    assert odd.status == 403
    assert (await client.get("/")).status == 200  # still logged in
    token = csrf_from(await (await client.get("/")).text())
    by_header = await client.post("/logout", headers={"X-CSRF-Token": token}, allow_redirects=False)
    assert by_header.status == 302


async def test_roles_are_checked_on_pages_and_api_routes(world, aiohttp_client):
    for username, supervisor_page, users_api, users_page in (
        ("alice", 403, 403, 403),
        ("sam", 200, 403, 403),
        ("ada", 200, 200, 200),
    ):
        client = await aiohttp_client(create_app(world.server.console_deps()))
        await login(client, username)
        assert (await client.get("/supervisor")).status == supervisor_page, username
        assert (await client.get("/admin/users")).status == users_page, username
        api = await client.get("/api/v1/users")
        assert api.status == users_api, username
        if users_api == 403:
            assert (await api.json())["error"] == "forbidden"
        assert (await client.get("/patients")).status == 200, username


async def test_unauthenticated_pages_redirect_and_api_answers_401(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    page = await client.get("/patients?q=grace", allow_redirects=False)
    assert page.status == 302
    location = URL(page.headers["Location"])
    assert location.path == "/login"
    assert location.query["next"] == "/patients?q=grace"
    api = await client.get("/api/v1/patients/1")
    assert api.status == 401
    assert (await api.json())["error"] == "unauthenticated"
    for public_path in ("/login", "/healthz", "/metrics", "/static/console.css"):
        assert (await client.get(public_path)).status == 200, public_path
    assert (await client.get("/api/v1/openapi.json")).status == 200


async def test_routes_without_a_declaration_are_denied(world, aiohttp_client):
    async def undeclared(request: web.Request) -> web.Response:
        return web.Response(text="should never be served")

    async def declared(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = create_app(world.server.console_deps())
    app.router.add_get("/undeclared", undeclared)
    app.router.add_get("/declared", allow(STAFF)(declared))
    client = await aiohttp_client(app)
    await login(client, "ada")
    assert (await client.get("/undeclared")).status == 403
    assert (await client.get("/declared")).status == 200


NASTY_NEXT = [
    "//evil.example/",
    "/\t/evil.example",  # what ?next=/%09/evil.example decodes to; browsers drop the tab
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    "evil.example",
    " /evil.example",
    "/ /evil.example",
    "/\x7f/evil.example",
    "/\u3000/evil.example",
    "/\u2028/evil.example",
    "/" + "a" * 5000,
    "",
]


@pytest.mark.parametrize("target", NASTY_NEXT)
async def test_login_redirects_only_to_local_paths(world, aiohttp_client, target):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    page = await client.get("/login", params={"next": target})
    html = await page.text()
    assert 'name="next" value="/"' in html
    response = await client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(html),
            "next": target,
        },
        allow_redirects=False,
    )
    assert response.status == 302
    assert response.headers["Location"] == "/"
    # Already logged in, the form itself redirects: to the same safe place.
    again = await client.get("/login", params={"next": target}, allow_redirects=False)
    assert again.headers["Location"] == "/"


async def test_the_tab_trick_from_the_pentest_is_refused(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    page = await client.get(URL("/login?next=/%09/evil.example", encoded=True))
    assert 'name="next" value="/"' in await page.text()


@pytest.mark.parametrize("target", ["/patients/3", "/patients?q=grace%20h&limit=5", "/desk#pop"])
async def test_login_returns_to_a_local_path(world, aiohttp_client, target):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    page = await client.get("/login", params={"next": target})
    response = await client.post(
        "/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(await page.text()),
            "next": target,
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == target


async def test_an_address_is_locked_after_failures_across_accounts(world, aiohttp_client):
    clock = FakeClock()
    await forget_login_failures(world.server.database)
    throttle = LoginThrottle(world.server.database, max_per_address=4, clock=clock)
    client = await aiohttp_client(
        create_app(world.server.console_deps(), clock=clock, throttle=throttle)
    )
    for n in range(3, 7):
        assert (await login(client, f"agent{n}", "wrong-password-123")).status == 401
    assert (await login(client, "agent7")).status == 429  # a fresh account, same address
    assert (await _login_audit(world))[0].detail["outcome"] == "throttled"
    clock.now += 15 * 60 + 1
    assert (await login(client, "agent7")).status == 302


async def test_responses_carry_security_headers(world, aiohttp_client):
    client = await aiohttp_client(create_app(world.server.console_deps()))
    response = await client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


async def test_json_api_calls_need_the_csrf_header(world, aiohttp_client):
    async def change(request: web.Request) -> web.Response:
        return web.json_response({"changed": (await request.json())["value"]})

    app = create_app(world.server.console_deps())
    app.router.add_post("/api/v1/change", allow(STAFF)(change))
    client = await aiohttp_client(app)
    await login(client, "alice")
    refused = await client.post("/api/v1/change", json={"value": 1})
    assert refused.status == 403
    assert (await refused.json())["error"] == "forbidden"
    token = csrf_from(await (await client.get("/")).text())
    accepted = await client.post(
        "/api/v1/change", json={"value": 1}, headers={"X-CSRF-Token": token}
    )
    assert accepted.status == 200
    assert await accepted.json() == {"changed": 1}
