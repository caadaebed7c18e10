"""A patient's export and erasure over /api/v1: admins only, audited, CSRF as every write.

The work is :mod:`hcrm_core.services.privacy`'s; the console adds the recording key that
opens transcripts and the removal of recording files (:mod:`callcenter.recording.privacy`).
"""

from __future__ import annotations

from aiohttp import web

from callcenter.recording.privacy import audio_remover, transcript_decrypter
from callcenter.recording.voicemails import voicemail_remover
from hcrm_core.errors import ValidationFailed
from hcrm_core.services.privacy import ErasureRefused, erase_patient, export_json, export_patient
from web_console.access import ADMINS, actor_for, allow
from web_console.errors import error_body
from web_console.json_body import read_body
from web_console.keys import DATABASE, SETTINGS
from web_console.views import only_params, patient_id_from

routes = web.RouteTableDef()
PREFIX = "/api/v1"


@routes.get(f"{PREFIX}/patients/{{patient_id}}/export")
@allow(ADMINS)
async def export(request: web.Request) -> web.Response:
    """Everything held about the patient as one JSON bundle, transcripts decrypted."""
    only_params(request, set())
    patient_id = patient_id_from(request)
    settings = request.app[SETTINGS]
    bundle = await export_patient(
        request.app[DATABASE],
        actor_for(request),
        patient_id,
        decrypt=transcript_decrypter(settings.recording),
    )
    return web.Response(
        text=export_json(bundle),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="patient-{patient_id}-export.json"',
            "Cache-Control": "no-store",
        },
    )


@routes.post(f"{PREFIX}/patients/{{patient_id}}/erase")
@allow(ADMINS)
async def erase(request: web.Request) -> web.Response:
    """Anonymise the patient (body ``{"confirm": true}``); 409 while a legal hold applies."""
    patient_id = patient_id_from(request)
    body = await read_body(request)
    confirm = body.boolean("confirm")
    body.done()
    if confirm is not True:
        raise ValidationFailed("confirm", "must be true: erasure cannot be undone")
    settings = request.app[SETTINGS]
    try:
        erasure = await erase_patient(
            request.app[DATABASE],
            actor_for(request),
            patient_id,
            remove_audio=audio_remover(settings.asterisk),
            remove_voicemails=voicemail_remover(settings.asterisk),
        )
    except ErasureRefused as refused:
        response = error_body(refused.code, refused.message)
        return web.json_response(
            {**response, "recording_ids": refused.recording_ids}, status=refused.http_status
        )
    return web.json_response({"patient_id": patient_id, "erased": erasure.counts})
