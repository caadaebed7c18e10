"""A recording key for the demo (and any site that wants one made for it).

Sites normally set ``recording.key`` themselves (``callcenter recordings keygen``). The demo
calls :func:`with_recording_key`: the key is generated once into ``<data_dir>/recording.key``
(mode 0600) and reused, so recordings made by an earlier demo run stay readable.
"""

from __future__ import annotations

import os

from pydantic import SecretStr

from callcenter.recording.crypto import RecordingCipher, generate_key
from callcenter.settings import Settings

KEY_FILE = "recording.key"


def with_recording_key(settings: Settings) -> Settings:
    """``settings`` with ``recording.key`` set (kept as configured when it already is)."""
    if settings.recording.key.get_secret_value():
        return settings
    path = settings.data_dir / KEY_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
    RecordingCipher.from_setting(key)  # a damaged file fails here, not mid-call
    recording = settings.recording.model_copy(update={"key": SecretStr(key)})
    return settings.model_copy(update={"recording": recording})
