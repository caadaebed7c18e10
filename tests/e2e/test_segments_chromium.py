"""The segment pages in a real headless Chromium.

A supervisor reads the RFM groups on /segments, creates a tag, gets a refusal beside the RFM
bound that caused it, saves a segment and reads its members, tags a patient from the card,
and finds the segment among a campaign's targets. ``CALLCENTER_SHOTS_DIR`` set: screenshots at
1400 and 1024 px are kept.
"""

from __future__ import annotations

import os

from tests.e2e.test_console_chromium import (  # noqa: F401
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    chromium,
    served,
)
from tests.support.browser import log_in, screenshots
from tests.support.segment_data import seed_segments_world


async def test_segment_pages(chromium, served) -> None:  # noqa: F811
    from playwright.async_api import async_playwright

    base, world = served
    server = world.server
    segments = await seed_segments_world(server.database, server.settings.booking_policy())
    shots = os.environ.get("CALLCENTER_SHOTS_DIR")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            await log_in(page, base, "sam", "/segments")
            champions = await page.text_content('#rfm-groups tr[data-group="champions"] td.num')
            assert champions == "1"
            await page.fill("#t-name", "falls-risk")
            await page.fill("#t-description", "Older patients at risk of falls")
            await page.click("#new-tag button[type=submit]")
            await page.wait_for_selector('#tag-table tr[data-tag="falls-risk"]')

            await page.click("#new-segment")
            await page.wait_for_url(f"{base}/segments/new")
            await page.fill("#s-name", "Chronic, recent but not frequent")
            await page.select_option("#s-chronic_care", "yes")
            await page.select_option("#s-rfm-f_min", "4")
            await page.select_option("#s-rfm-f_max", "2")
            await page.click("#segment-form button[type=submit]")
            error = await page.text_content("#s-rfm-f_max-error")
            assert error is not None and "at least the lowest score" in error
            assert await page.input_value("#s-name") == "Chronic, recent but not frequent"
            await screenshots(page, shots, "h4-segments-form-refused")
            await page.select_option("#s-rfm-f_min", "")
            await page.select_option("#s-rfm-f_max", "")
            await page.check('input[name=rfm_groups][value="at_risk"]')
            await page.check('input[name=rfm_groups][value="lapsed"]')
            await page.fill("#s-name", "Lapsed chronic-care patients")
            await page.click("#segment-form button[type=submit]")
            await page.wait_for_selector("#members")
            assert await page.text_content("#segment-total") == "2"
            assert await page.locator("#members tbody tr").count() == 2
            await screenshots(page, shots, "h4-segments-members")

            await page.goto(f"{base}/segments")
            await page.wait_for_selector('#segments tr td.members:text-is("2")')
            await screenshots(page, shots, "h4-segments-list")

            await page.goto(f"{base}/patients/{segments.ids['C']}")
            await page.select_option("#add-tag-name", "falls-risk")
            await page.click("#add-tag button[type=submit]")
            await page.wait_for_selector('#patient-tags li[data-tag="falls-risk"]')
            await screenshots(page, shots, "h4-segments-patient-tags")

            # Only admins give a campaign its targets.
            admin = await (await browser.new_context()).new_page()
            admin.set_default_timeout(TIMEOUT_MS)
            await log_in(admin, base, "ada", "/campaigns")
            options = await admin.locator("#c-targets-segment_id option").all_text_contents()
            assert "Lapsed chronic-care patients" in options
            await admin.select_option("#c-targets-segment_id", label="Lapsed chronic-care patients")
            await screenshots(admin, shots, "h4-segments-campaign-target")
        finally:
            await browser.close()
