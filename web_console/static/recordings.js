// The recording player: waveform drawn from the server's peaks, click to seek, transcript
// words that seek the audio when clicked and light up while they are spoken. No build step.
"use strict";

(() => {
  // The paused spans (the agent's pause button, or an on-demand recording not yet started), as
  // fractions of the recording, from the pause marks' times and the recording's start.
  const pausedSpans = (player, duration) => {
    const started = Date.parse(player.dataset.started || "");
    const marks = JSON.parse(player.dataset.pauses || "[]");
    if (!duration || Number.isNaN(started)) {
      return [];
    }
    const spans = [];
    let from = null;
    marks.forEach((mark) => {
      const at = (Date.parse(mark.at) - started) / 1000 / duration;
      if (mark.paused && from === null) {
        from = Math.max(0, at);
      } else if (!mark.paused && from !== null) {
        spans.push([from, Math.min(1, at)]);
        from = null;
      }
    });
    if (from !== null) {
      spans.push([from, 1]);
    }
    return spans.filter(([a, b]) => b > a);
  };

  const drawWaveform = (canvas, peaks, position, spans = []) => {
    const ctx = canvas.getContext("2d");
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = "rgba(183, 121, 31, 0.25)";
    spans.forEach(([a, b]) => ctx.fillRect(a * width, 0, (b - a) * width, height));
    if (!peaks.length) {
      return;
    }
    const step = width / peaks.length;
    peaks.forEach((peak, i) => {
      const bar = Math.max(1, peak * height);
      ctx.fillStyle = i / peaks.length <= position ? "#0b4f6c" : "#9bb8c6";
      ctx.fillRect(i * step, (height - bar) / 2, Math.max(1, step - 0.5), bar);
    });
  };

  const start = () => {
    const player = document.getElementById("player");
    const audio = document.getElementById("recording-audio");
    const canvas = document.getElementById("waveform");
    if (!player || !audio || !canvas) {
      return;
    }
    const peaks = JSON.parse(player.dataset.peaks || "[]");
    const words = Array.from(document.querySelectorAll("#transcript .word"));
    const position = () => (audio.duration ? audio.currentTime / audio.duration : 0);
    const redraw = () => drawWaveform(canvas, peaks, position(), pausedSpans(player, audio.duration));
    const seek = (seconds) => {
      audio.currentTime = seconds;
      redraw();
    };

    canvas.addEventListener("click", (event) => {
      const box = canvas.getBoundingClientRect();
      const fraction = (event.clientX - box.left) / box.width;
      if (audio.duration) {
        seek(fraction * audio.duration);
      }
    });
    words.forEach((word) => {
      word.addEventListener("click", () => seek(parseFloat(word.dataset.start)));
    });
    audio.addEventListener("timeupdate", () => {
      const now = audio.currentTime;
      words.forEach((word) => {
        const on = now >= parseFloat(word.dataset.start) && now < parseFloat(word.dataset.end);
        word.classList.toggle("current", on);
      });
      redraw();
    });
    audio.addEventListener("loadedmetadata", redraw);
    redraw();
  };

  // Live monitoring: the form posts in the background and says what happened.
  const startMonitorForm = () => {
    const form = document.getElementById("monitor-form");
    const result = document.getElementById("monitor-result");
    if (!form || !result) {
      return;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const data = await response.json();
      result.textContent = response.ok
        ? `Your phone is ringing (${data.mode}).`
        : data.message || "Monitoring failed.";
    });
  };

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("DOMContentLoaded", startMonitorForm);
})();
