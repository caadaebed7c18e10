// The board's follow-up tiles: task counts and complaints past due, read every 20 seconds
// (tasks change in the console, not on the phone system's event stream).
"use strict";

const boardWorkRefresh = async () => {
  const set = (id, value) => {
    const place = document.getElementById(id);
    place.textContent = String(value);
    place.closest("li").classList.toggle("zero", value === 0);
  };
  try {
    const [counts, late] = await Promise.all([
      window.consoleApi("/api/v1/tasks/counts"),
      window.consoleApi("/api/v1/complaints?view=past_due&limit=500"),
    ]);
    set("board-tasks-open", counts.open);
    set("board-tasks-progress", counts.in_progress);
    set("board-tasks-overdue", counts.overdue);
    set("board-complaints-late", late.complaints.length);
    document.getElementById("board-work-at").textContent =
      `(at ${window.consoleTime.time(counts.at)})`;
  } catch (error) {
    document.getElementById("board-work-at").textContent = "(could not load)";
  }
};

document.addEventListener("DOMContentLoaded", () => {
  if (document.getElementById("board-work")) {
    boardWorkRefresh();
    window.setInterval(boardWorkRefresh, 20000);
  }
});
