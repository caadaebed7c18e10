// Plain JavaScript for the console's small live parts; no build step.
"use strict";

// JSON calls to /api/v1 with the session's CSRF token (the server refuses any state-changing
// request without it). The token is in <meta name="csrf-token"> on every logged-in page.
window.consoleApi = async (path, options = {}) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const headers = new Headers(options.headers || {});
  headers.set("Accept", "application/json");
  if (meta) {
    headers.set("X-CSRF-Token", meta.content);
  }
  if (options.body !== undefined && typeof options.body !== "string") {
    headers.set("Content-Type", "application/json");
    options = { ...options, body: JSON.stringify(options.body) };
  }
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const data = await response.json();
  if (!response.ok) {
    throw Object.assign(new Error(data.message), { status: response.status, data });
  }
  return data;
};

document.addEventListener("DOMContentLoaded", () => {
  const search = document.querySelector("[data-autofocus]");
  if (search) {
    search.focus();
  }
});

// The top bar's drop-down menus (<details class="nav-menu">) close on a click elsewhere and on
// Escape, as menus do.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.nav-menu[open]")) {
    if (!menu.contains(event.target)) {
      menu.open = false;
    }
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") {
    return;
  }
  for (const menu of document.querySelectorAll("details.nav-menu[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});
