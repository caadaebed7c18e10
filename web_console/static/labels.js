// Readable labels for codes (web_console/labels.py): base.html puts the table in a JSON data
// block; window.consoleLabel("on_call") -> "On a call". Unknown codes are humanised, never raw.
"use strict";

window.consoleLabel = (() => {
  const block = document.getElementById("console-labels");
  let table = {};
  try {
    table = block ? JSON.parse(block.textContent) : {};
  } catch (_err) {
    table = {};
  }
  const UPPER = { ivr: "IVR", id: "ID", mrn: "MRN", vip: "VIP", sms: "SMS" };
  return (code) => {
    if (code === null || code === undefined) return "";
    const text = String(code);
    if (Object.prototype.hasOwnProperty.call(table, text)) return table[text];
    const words = text.replace(/[_-]/g, " ").split(/\s+/).filter(Boolean);
    if (!words.length) return text;
    const shown = words.map((w) => UPPER[w.toLowerCase()] || w);
    shown[0] = shown[0].charAt(0).toUpperCase() + shown[0].slice(1);
    return shown.join(" ");
  };
})();
