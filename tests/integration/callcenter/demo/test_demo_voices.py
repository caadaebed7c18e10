"""The demo's simulated voices, rendered exactly as ``callcenter demo`` renders them and heard by
the real bundled model (loaded once per test process).

What is guarded: a speaking caller's "네" / "아니요" is understood by the IVR's speech input
(the yes/no grammar at the confirmation), and each robot agent's line gives the recordings page
a transcript with words inside the line. Not claimed: that the transcript reads back the line;
espeak-ng's Korean is not read back by the small model (see :mod:`callcenter.demo.voices`).
"""

from __future__ import annotations

from pathlib import Path

from pydub import AudioSegment

from callcenter.agi.channel import sound
from callcenter.demo import voices
from callcenter.ivr.speech import Recognizer, match
from callcenter.recording.transcribe import transcribe
from callcenter.speech_model import bundled_model_dir, load_model
from tests.support.speech import korean_recognizer
from tests.unit.callcenter.ivr.test_speech import MIN_CONFIDENCE, yes_no_grammar

__all__ = ["korean_recognizer"]  # the session fixture, imported for this module


def _rendered(sounds_dir: Path) -> dict[str, Path]:
    result = voices.render(sounds_dir)
    assert sorted(result.rendered) == sorted(voices.catalogue())
    return {name: sounds_dir / f"{sound(name)}.wav" for name in voices.catalogue()}


def test_the_speaking_callers_yes_and_no_are_understood(
    korean_recognizer: Recognizer, tmp_path: Path
) -> None:
    files = _rendered(tmp_path)
    grammar = yes_no_grammar(korean_recognizer)
    for name, expected in ((voices.YES, True), (voices.NO, False)):
        heard = korean_recognizer.recognize_file(files[name], grammar)
        assert match(heard, grammar, MIN_CONFIDENCE) is expected, (name, heard)


def test_every_agent_line_gives_a_transcript(korean_recognizer: Recognizer, tmp_path: Path) -> None:
    files = _rendered(tmp_path)
    # The model the recording workers load: loaded once per process, shared with the fixture.
    model = load_model(bundled_model_dir() or "")
    for index, text in enumerate(voices.AGENT_LINES):
        audio = AudioSegment.from_wav(files[voices.agent_line(index)])
        words = transcribe(audio, model)
        assert words, f"no words for {text!r}"
        assert all(0 <= w["start"] <= w["end"] <= len(audio) / 1000 + 0.1 for w in words)
