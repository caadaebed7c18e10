"""English prompts in Piper's voice: real Piper (offline ONNX) and pydub, into a temporary
directory. Recognisable speech is checked by its measures: length per word, loudness, and
voicing (a spoken vowel repeats at the speaker's pitch; noise, clicks and silence do not)."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
from pydub import AudioSegment

from callcenter.agi import core_sounds_en, voices
from callcenter.agi.prompt_audio import TARGET_DBFS, active_level, build_prompts
from callcenter.ivr import prompts
from callcenter.ivr.build_prompts import language_prompts
from tests.conftest import require_or_skip

# A sample of the catalogue: short and long prompts, and the SAY files of a date and time.
PROMPTS = (prompts.WELCOME, prompts.MAIN_MENU, prompts.ASK_DOB, prompts.GOODBYE)
SAY = ("digits/7", "digits/20", "digits/mon-10", "digits/day-1", "digits/h-23", "digits/p-m")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        voices.speak("test", voices.PIPER_ENGLISH)
    except voices.VoiceError as exc:
        require_or_skip(str(exc))
    catalogue = language_prompts(prompts.ENGLISH)
    out = tmp_path_factory.mktemp("piper-en")
    build_prompts({name: catalogue[name] for name in (*PROMPTS, *SAY)}, out)
    return out


def _audio(out: Path, name: str) -> AudioSegment:
    return AudioSegment.from_wav(out / f"{name}.wav")


def _frames(audio: AudioSegment) -> list[np.ndarray]:
    """40 ms frames every 10 ms, of samples as floats."""
    samples = np.array(audio.get_array_of_samples(), dtype=float)
    size, hop = audio.frame_rate * 40 // 1000, audio.frame_rate * 10 // 1000
    return [samples[i : i + size] for i in range(0, len(samples) - size, hop)]


def _pitch(frame: np.ndarray, rate: int) -> float | None:
    """The frame's fundamental frequency (70-400 Hz, autocorrelation), None when unvoiced."""
    frame = frame - frame.mean()
    corr = np.correlate(frame, frame, "full")[len(frame) - 1 :]
    low, high = rate // 400, rate // 70
    lag = low + int(np.argmax(corr[low:high]))
    if corr[0] <= 0 or corr[lag] <= 0.3 * corr[0]:
        return None
    # A strong second harmonic can peak at half the period: prefer the period twice as long
    # when it repeats nearly as well (no octave-high pitch).
    double = 2 * lag
    if double + 2 < high and max(corr[double - 2 : double + 3]) > 0.85 * corr[lag]:
        lag = double - 2 + int(np.argmax(corr[double - 2 : double + 3]))
    return rate / lag


def _voiced_pitches(audio: AudioSegment) -> tuple[int, list[float]]:
    """(number of loud frames, pitch of each voiced one)."""
    loud = [f for f in _frames(audio) if np.sqrt(np.mean(f * f)) > 300]
    return len(loud), [p for f in loud if (p := _pitch(f, audio.frame_rate)) is not None]


def _speech_measures(audio: AudioSegment) -> tuple[float, float]:
    """(share of loud frames that are voiced, median pitch of the voiced frames)."""
    loud, pitches = _voiced_pitches(audio)
    assert loud and pitches, "no voiced sound at all"
    return len(pitches) / loud, statistics.median(pitches)


def test_english_prompts_are_speech_at_telephone_rate_and_one_loudness(rendered: Path) -> None:
    catalogue = language_prompts(prompts.ENGLISH)
    for name in PROMPTS:
        audio = _audio(rendered, name)
        words = len(catalogue[name].text.split())
        assert (audio.frame_rate, audio.channels, audio.sample_width) == (8000, 1, 2), name
        # Natural speech: 0.15-0.8 s a word (a digit list is slower), plus the pauses at ends.
        seconds = len(audio) / 1000
        assert 0.15 * words <= seconds <= 0.8 * words + 1.5, (name, words, seconds)
        level = active_level(audio)
        assert level is not None and abs(level - TARGET_DBFS) < 2, (name, level)
        assert audio.max_dBFS <= -0.9, (name, audio.max_dBFS)  # never clipped
        voiced, pitch = _speech_measures(audio)
        assert voiced > 0.5, (name, voiced)
        assert 70 < pitch < 250, (name, pitch)


def test_say_numbers_and_dates_are_in_the_prompts_voice(rendered: Path) -> None:
    assert set(SAY) <= set(core_sounds_en.say_files())
    _voiced, prompt_pitch = _speech_measures(_audio(rendered, prompts.MAIN_MENU))
    say_pitches: list[float] = []
    for name in SAY:
        audio = _audio(rendered, name)
        assert 0.2 < len(audio) / 1000 < 1.6, (name, len(audio))
        voiced, _pitch_of_word = _speech_measures(audio)
        assert voiced > 0.4, (name, voiced)
        say_pitches += _voiced_pitches(audio)[1]
    # The same speaker: Debian's digits (Allison) measure about 150 Hz, Piper's about 100.
    # Pooled over the words: one short word's pitch is too few frames to judge a voice by.
    pitch = statistics.median(say_pitches)
    assert abs(pitch - prompt_pitch) / prompt_pitch < 0.25, (pitch, prompt_pitch)


def test_noise_is_not_mistaken_for_speech() -> None:
    """The measures above can fail: white noise at speech loudness is loud but unvoiced."""
    rng = np.random.default_rng(7)
    noise = (rng.normal(0, 4000, 8000 * 2)).astype(np.int16)
    audio = AudioSegment(noise.tobytes(), frame_rate=8000, sample_width=2, channels=1)
    loud = [f for f in _frames(audio) if np.sqrt(np.mean(f * f)) > 300]
    voiced = [f for f in loud if _pitch(f, 8000) is not None]
    assert len(voiced) / len(loud) < 0.2


def test_english_uses_piper_and_mandarin_keeps_espeak() -> None:
    assert voices.voice_for(prompts.ENGLISH) == voices.PIPER_ENGLISH
    assert voices.voice_for(prompts.MANDARIN) == voices.ESPEAK_MANDARIN
    assert set(core_sounds_en.say_files()) <= set(language_prompts(prompts.ENGLISH))
