"""Pure parts of the recording slice: encryption, redaction, names, dialplan globals."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from pydantic import ValidationError

from callcenter.asterisk.recording_policy import campaign_record_variables, dialplan_globals
from callcenter.recording.crypto import CHUNK, DecryptionFailed, RecordingCipher, generate_key
from callcenter.recording.errors import BadRecordingKey, UnsafeRecordingPath
from callcenter.recording.paths import files_for, local_path
from callcenter.recording.redact import REDACTED, redact_words, words_text
from callcenter.settings import AsteriskSettings, RecordingSettings

ASTERISK = AsteriskSettings(
    recordings_asterisk_path=PurePosixPath("/var/spool/asterisk/monitor"),
    recordings_local_path=Path("/mnt/pbx/monitor"),
)


def _cipher() -> RecordingCipher:
    cipher = RecordingCipher.from_setting(generate_key())
    assert cipher is not None
    return cipher


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_file_encryption_round_trip_and_ranges(tmp_path: Path, size: int) -> None:
    cipher = _cipher()
    data = bytes((i * 7) % 251 for i in range(size))
    source, sealed = tmp_path / "plain", tmp_path / "sealed"
    source.write_bytes(data)
    cipher.encrypt_file(source, sealed)
    if size >= 64:  # a short plaintext may turn up in random ciphertext by chance
        assert data[:64] not in sealed.read_bytes()
    assert cipher.plaintext_size(sealed) == size
    assert b"".join(cipher.decrypt_range(sealed)) == data
    for start, end in ((0, 10), (CHUNK - 5, CHUNK + 5), (size // 2, size)):
        assert b"".join(cipher.decrypt_range(sealed, start, end)) == data[start:end]


def test_tampered_truncated_or_wrong_key_files_are_refused(tmp_path: Path) -> None:
    cipher = _cipher()
    source, sealed = tmp_path / "plain", tmp_path / "sealed"
    source.write_bytes(b"x" * (2 * CHUNK + 100))
    cipher.encrypt_file(source, sealed)
    with pytest.raises(DecryptionFailed):
        b"".join(_cipher().decrypt_range(sealed))
    raw = bytearray(sealed.read_bytes())
    raw[100] ^= 1
    sealed.write_bytes(bytes(raw))
    with pytest.raises(DecryptionFailed):
        b"".join(cipher.decrypt_range(sealed))
    cipher.encrypt_file(source, sealed)
    whole = sealed.read_bytes()
    sealed.write_bytes(whole[: len(whole) - (CHUNK // 2)])  # the last chunk lost
    with pytest.raises(DecryptionFailed):
        b"".join(cipher.decrypt_range(sealed))


def test_text_encryption_round_trip() -> None:
    cipher = _cipher()
    token = cipher.encrypt_text("카드 번호 [number]")
    assert "카드" not in token and token != cipher.encrypt_text("카드 번호 [number]")
    assert cipher.decrypt_text(token) == "카드 번호 [number]"
    with pytest.raises(DecryptionFailed):
        _cipher().decrypt_text(token)


@pytest.mark.parametrize("key", ["short", "!!!not base64!!!", "QUFB"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(BadRecordingKey):
        RecordingCipher.from_setting(key)
    assert RecordingCipher.from_setting("") is None


def _words(*texts: str) -> list[dict[str, object]]:
    return [
        {"word": t, "start": i * 0.5, "end": i * 0.5 + 0.4, "conf": 0.9}
        for i, t in enumerate(texts)
    ]


def test_long_spoken_number_runs_are_redacted_keeping_timings() -> None:
    words = _words("카드", "번호는", "일", "이", "삼", "사", "오", "육", "칠", "입니다")
    redacted = redact_words(words, min_digits=6)
    assert [w["word"] for w in redacted[2:9]] == [REDACTED] * 7
    assert [w["start"] for w in redacted] == [w["start"] for w in words]
    assert words_text(redacted) == f"카드 번호는 {REDACTED} 입니다"
    assert words[2]["word"] == "일"  # the input is not changed


@pytest.mark.parametrize(
    ("texts", "redacted"),
    [
        (("my", "card", "is", "4111", "1111"), True),  # digits count by length
        (("four", "one", "one", "one", "two", "two"), True),
        (("room", "12", "at", "3", "pm"), False),  # short numbers stay
        (("one", "two", "three", "and", "four", "five"), False),  # a break resets the run
    ],
)
def test_redaction_counts_digits_in_a_run(texts: tuple[str, ...], redacted: bool) -> None:
    result = redact_words(_words(*texts), min_digits=6)
    assert (REDACTED in [w["word"] for w in result]) is redacted


def test_recording_files_are_named_by_server_ids_and_mapped() -> None:
    files = files_for("cc-1234-1700000000.wav", ASTERISK)
    assert files.caller == PurePosixPath(
        "/var/spool/asterisk/monitor/cc-1234-1700000000-caller.wav"
    )
    assert files.agent.name == "cc-1234-1700000000-agent.wav"
    assert local_path(files.caller, ASTERISK) == Path(
        "/mnt/pbx/monitor/cc-1234-1700000000-caller.wav"
    )


@pytest.mark.parametrize(
    "name", ["../etc/passwd.wav", "a/b.wav", "x.mp3", "evil name.wav", "..wav", "", "$(id).wav"]
)
def test_odd_recording_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeRecordingPath):
        files_for(name, ASTERISK)


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/var/spool/asterisk/monitor/../x.wav", "/var/spool/asterisk/monitor/a/b"],
)
def test_paths_outside_the_recordings_folder_are_refused(path: str) -> None:
    with pytest.raises(UnsafeRecordingPath):
        local_path(path, ASTERISK)


def test_dialplan_globals_carry_each_queue_policy() -> None:
    settings = RecordingSettings(
        default_policy="never",
        inbound_policy="on_demand",
        queue_policies={"appointments": "always"},
    )
    assert dialplan_globals(settings) == {
        "CALLCENTER_RECORD_DEFAULT": "never",
        "CALLCENTER_RECORD_INBOUND": "on_demand",
        "CALLCENTER_RECORD_ANNOUNCE": "conf-now-recording",
        "CALLCENTER_RECORD_POLICY_appointments": "always",
    }
    quiet = RecordingSettings(announce=False)
    assert dialplan_globals(quiet)["CALLCENTER_RECORD_ANNOUNCE"] == ""
    with pytest.raises(ValueError, match="queue name"):
        dialplan_globals(RecordingSettings(queue_policies={"a b": "always"}))
    with pytest.raises(ValueError, match="sound name"):
        dialplan_globals(RecordingSettings(announcement="../../etc/x"))


@pytest.mark.parametrize(
    "values",
    [
        {"default_policy": "sometimes"},
        {"queue_policies": {"appointments": "maybe"}},
        {"audio_format": "flac"},
        {"agent_access": "all"},
        {"supervisor_dial": "PJSIP/100"},
    ],
)
def test_bad_recording_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RecordingSettings(**values)


def test_campaign_policy_becomes_an_originate_variable() -> None:
    assert campaign_record_variables({"recording": "on_demand"}) == {
        "CALLCENTER_RECORD": "on_demand"
    }
    assert campaign_record_variables({}) == {}
    with pytest.raises(ValueError, match="campaign recording policy"):
        campaign_record_variables({"recording": "yes please"})


def test_demo_key_is_made_once_and_kept(tmp_path: Path) -> None:
    from callcenter.recording.keys import KEY_FILE, with_recording_key
    from callcenter.settings import Settings

    first = with_recording_key(Settings(data_dir=tmp_path))
    again = with_recording_key(Settings(data_dir=tmp_path))
    key = first.recording.key.get_secret_value()
    assert key and again.recording.key.get_secret_value() == key
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert RecordingCipher.from_setting(key) is not None


def test_mp3_keeps_the_call_s_timeline(tmp_path: Path) -> None:
    from array import array

    from pydub import AudioSegment

    from callcenter.recording.audio import make_stereo_file

    rate = 8000
    samples = array("h", [0] * (rate * 5))
    for k in range(rate, rate + 80):  # a burst at exactly 1.0 s
        samples[k] = 20000 if (k // 4) % 2 else -20000
    side = AudioSegment(samples.tobytes(), frame_rate=rate, sample_width=2, channels=1)
    result = make_stereo_file(side, None, tmp_path / "out.mp3", "mp3")
    assert result.duration_seconds == 5.0
    decoded = AudioSegment.from_file(tmp_path / "out.mp3")
    assert decoded.channels == 2
    left = array("h", decoded.split_to_mono()[0].raw_data)
    burst = next(i for i, v in enumerate(left) if abs(v) > 5000) / decoded.frame_rate
    assert abs(burst - 1.0) < 0.005
    assert 0 <= decoded.duration_seconds - 5.0 <= 0.073  # at most one MP3 frame longer
