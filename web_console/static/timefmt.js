// One time format in the browser, the same as the server's (web_console/timefmt.py):
// "Tue 8 Dec 2026, 08:30" in the hospital's time zone (base.html puts it on <body data-tz>),
// "08:30 EST" with the zone. Any page's script calls window.consoleTime.*.
"use strict";

window.consoleTime = (() => {
  const zone = (document.body && document.body.dataset.tz) || "UTC";
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  });

  // A calendar date ("2026-12-08", a birthday, a due day) has no zone: shown as it is.
  const CALENDAR_DAY = /^\d{4}-\d{2}-\d{2}$/;
  const dayParts = new Intl.DateTimeFormat("en-US", {
    timeZone: "UTC",
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
  });

  const toDate = (value) => (value instanceof Date ? value : new Date(value));

  // The moment's fields in the hospital's zone: {weekday, day, month, year, hour, minute, zone}.
  function fields(value) {
    const out = {};
    for (const part of parts.formatToParts(toDate(value))) {
      out[part.type] = part.value;
    }
    return {
      weekday: out.weekday,
      day: String(Number(out.day)),
      month: out.month,
      year: out.year,
      hour: out.hour === "24" ? "00" : out.hour,
      minute: out.minute,
      zone: out.timeZoneName,
      key: `${out.year}-${out.month}-${out.day}`,
    };
  }

  const dateOf = (f) => `${f.weekday} ${f.day} ${f.month} ${f.year}`;
  const timeOf = (f, withZone) => `${f.hour}:${f.minute}${withZone ? ` ${f.zone}` : ""}`;

  function valid(value) {
    return value !== null && value !== undefined && value !== "" && !Number.isNaN(toDate(value).getTime());
  }

  return {
    zone,
    // "Tue 8 Dec 2026, 08:30" ({zone: true}: "... 08:30 EST"); "" for nothing.
    dateTime(value, { zone: withZone = false } = {}) {
      if (!valid(value)) return "";
      const f = fields(value);
      return `${dateOf(f)}, ${timeOf(f, withZone)}`;
    },
    // "Tue 8 Dec 2026"; a calendar date string ("2026-12-08") is not moved between zones.
    date(value) {
      if (!valid(value)) return "";
      if (typeof value === "string" && CALENDAR_DAY.test(value)) {
        const out = {};
        for (const part of dayParts.formatToParts(new Date(`${value}T00:00:00Z`))) {
          out[part.type] = part.value;
        }
        return `${out.weekday} ${Number(out.day)} ${out.month} ${out.year}`;
      }
      return dateOf(fields(value));
    },
    time(value, { zone: withZone = false } = {}) {
      return valid(value) ? timeOf(fields(value), withZone) : "";
    },
    // "Today, 08:30", "Tomorrow, ...", "Yesterday, ...", else the full form.
    relative(value, { zone: withZone = false, now = new Date() } = {}) {
      if (!valid(value)) return "";
      const f = fields(value);
      const day = 24 * 3600 * 1000;
      const nowDate = toDate(now);
      const words = new Map([
        [fields(nowDate).key, "Today"],
        [fields(new Date(nowDate.getTime() + day)).key, "Tomorrow"],
        [fields(new Date(nowDate.getTime() - day)).key, "Yesterday"],
      ]);
      const word = words.get(f.key);
      return word ? `${word}, ${timeOf(f, withZone)}` : `${dateOf(f)}, ${timeOf(f, withZone)}`;
    },
    // The zone's short name at a moment (now when none): "EST", "EDT".
    abbreviation(value) {
      return fields(valid(value) ? value : new Date()).zone;
    },
  };
})();
