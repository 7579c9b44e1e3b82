// The Jarvis timeline page. The token is sent once to sign in and never kept: the server answers
// with an HttpOnly session cookie. Every change sends the session's CSRF token in a header.
// Text from captures (app names, window titles, snippets) is only ever set as textContent.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);

const state = {
  csrf: null,
  me: null,
  device: null,
  day: null, // "YYYY-MM-DD" in the browser's time zone
  captures: [],
  index: -1,
  hits: [],
  hitsCursor: null,
  query: "",
  boxes: null, // highlight boxes of the search hit shown, in image pixels
};

class SignedOut extends Error {}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (response.status === 401 && path !== `${API}/session`) {
    showSignIn("The session has ended; sign in again.");
    throw new SignedOut();
  }
  return response;
}

async function problemText(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function status(text) {
  $("status").textContent = text;
}

// --- sign-in -------------------------------------------------------------------------------

function showSignIn(message) {
  state.csrf = null;
  state.me = null;
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  input.value = ""; // the token leaves the page as soon as it is sent
  const response = await fetch(`${API}/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ token }),
    credentials: "same-origin",
    cache: "no-store",
  });
  if (!response.ok) {
    $("signin-error").textContent = await problemText(response);
    return;
  }
  await start(await response.json());
}

async function signOut() {
  await call("DELETE", `${API}/session`);
  showSignIn("Signed out.");
}

async function start(session) {
  state.csrf = session.csrf_token;
  state.me = session;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("who").textContent = session.admin ? `${session.device} (admin)` : session.device;
  const response = await call("GET", `${API}/devices`);
  const { devices } = await response.json();
  const select = $("device");
  select.replaceChildren(
    ...devices.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  state.device = devices.includes(session.device) ? session.device : devices[0] || null;
  select.value = state.device || "";
  select.disabled = devices.length < 2;
  state.day = state.day || localDay(new Date());
  $("day").value = state.day;
  await loadDay();
}

// --- the day -------------------------------------------------------------------------------

function localDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function dayBounds(day) {
  const [y, m, d] = day.split("-").map(Number);
  return [new Date(y, m - 1, d), new Date(y, m - 1, d + 1)];
}

function shiftDay(days) {
  const [start] = dayBounds(state.day);
  start.setDate(start.getDate() + days);
  state.day = localDay(start);
  $("day").value = state.day;
  loadDay();
}

async function loadDay(selectId) {
  if (!state.device) return;
  const [since, until] = dayBounds(state.day);
  const params = new URLSearchParams({
    device: state.device,
    since: since.toISOString(),
    until: until.toISOString(),
    limit: "500",
  });
  const captures = [];
  for (;;) {
    const response = await call("GET", `${API}/captures?${params}`);
    if (!response.ok) {
      status(await problemText(response));
      return;
    }
    const page = await response.json();
    captures.push(...page.items);
    if (!page.next_cursor) break;
    params.set("cursor", page.next_cursor);
  }
  state.captures = captures;
  renderStrip();
  let index = captures.length - 1;
  if (selectId) {
    const found = captures.findIndex((c) => c.id === selectId);
    if (found >= 0) index = found;
  }
  show(index);
}

function timeOf(capture) {
  return new Date(capture.captured_at).toLocaleTimeString([], { hour12: false });
}

function renderStrip() {
  const items = state.captures.map((capture, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.dataset.index = String(i);
    button.dataset.id = capture.id;
    button.title = [capture.app_name, capture.window_title].filter(Boolean).join(" - ");
    const img = document.createElement("img");
    img.loading = "lazy";
    img.alt = "";
    img.src = `${API}/captures/${capture.id}/thumbnail?width=240`;
    const label = document.createElement("span");
    label.textContent = timeOf(capture);
    button.append(img, label);
    button.addEventListener("click", () => show(i));
    li.append(button);
    return li;
  });
  $("strip").replaceChildren(...items);
  const scrubber = $("scrubber");
  scrubber.max = String(Math.max(0, state.captures.length - 1));
  scrubber.disabled = state.captures.length < 2;
  const n = state.captures.length;
  $("count").textContent = `${n} capture${n === 1 ? "" : "s"}`;
}

function show(index, boxes) {
  state.boxes = boxes || null;
  if (index < 0 || index >= state.captures.length) {
    state.index = -1;
    $("figure").hidden = true;
    $("empty").hidden = false;
    return;
  }
  state.index = index;
  showCapture(state.captures[index], state.boxes);
  $("scrubber").value = String(index);
  for (const button of $("strip").querySelectorAll(".thumb")) {
    const current = button.dataset.index === String(index);
    button.setAttribute("aria-current", current ? "true" : "false");
    if (current) button.scrollIntoView({ block: "nearest", inline: "center" });
  }
}

function showCapture(capture, boxes) {
  $("empty").hidden = true;
  $("figure").hidden = false;
  const img = $("full");
  img.src = `${API}/captures/${capture.id}/image`;
  img.dataset.id = capture.id;
  img.alt = `Capture of ${capture.app_name || "the screen"} at ${timeOf(capture)}`;
  $("meta-time").textContent = new Date(capture.captured_at).toLocaleString([], { hour12: false });
  $("meta-app").textContent = capture.app_name || "-";
  $("meta-title").textContent = capture.window_title || "-";
  $("meta-device").textContent = capture.device;
  drawBoxes(capture, boxes || []);
}

function drawBoxes(capture, boxes) {
  // Percentages of the image's own size, so the boxes follow the image at any width.
  const marks = boxes.map((box) => {
    const div = document.createElement("div");
    div.className = "box";
    div.style.left = `${(100 * box.x) / capture.width}%`;
    div.style.top = `${(100 * box.y) / capture.height}%`;
    div.style.width = `${(100 * box.w) / capture.width}%`;
    div.style.height = `${(100 * box.h) / capture.height}%`;
    return div;
  });
  $("marks").replaceChildren(...marks);
}

function step(delta) {
  if (!state.captures.length) return;
  const next = Math.min(state.captures.length - 1, Math.max(0, state.index + delta));
  if (next !== state.index) show(next);
}

// --- search --------------------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  state.query = $("search").value.trim();
  state.hits = [];
  state.hitsCursor = null;
  if (!state.query) {
    closeResults();
    return;
  }
  await moreHits();
}

async function moreHits() {
  const params = new URLSearchParams({ q: state.query });
  if (state.device) params.set("device", state.device);
  if (state.hitsCursor) params.set("cursor", state.hitsCursor);
  const response = await call("GET", `${API}/search?${params}`);
  if (!response.ok) {
    status(await problemText(response));
    return;
  }
  const page = await response.json();
  state.hits.push(...page.items);
  state.hitsCursor = page.next_cursor || null;
  renderHits();
}

function snippet(hit) {
  const parts = [];
  let at = 0;
  // The server counts marks in code points; JavaScript strings index UTF-16 units.
  const chars = Array.from(hit.snippet || "");
  const text = (from, to) => chars.slice(from, to).join("");
  for (const [start, end] of hit.snippet_marks || []) {
    if (start < at || end <= start) continue;
    parts.push(document.createTextNode(text(at, start)));
    const mark = document.createElement("mark");
    mark.textContent = text(start, end);
    parts.push(mark);
    at = end;
  }
  parts.push(document.createTextNode(text(at)));
  const span = document.createElement("span");
  span.className = "snippet";
  span.append(...parts);
  return span;
}

function renderHits() {
  const items = state.hits.map((hit, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "hit";
    button.dataset.index = String(i);
    const when = document.createElement("span");
    when.className = "when";
    const capture = hit.capture;
    when.textContent = [
      new Date(capture.captured_at).toLocaleString([], { hour12: false }),
      capture.app_name,
      capture.window_title,
    ]
      .filter(Boolean)
      .join(" · ");
    button.append(when, snippet(hit));
    button.addEventListener("click", () => openHit(hit));
    li.append(button);
    return li;
  });
  $("hits").replaceChildren(...items);
  const n = state.hits.length;
  $("results-count").textContent = `${n}${state.hitsCursor ? "+" : ""} hit${n === 1 ? "" : "s"}`;
  $("more-hits").hidden = !state.hitsCursor;
  $("results").hidden = false;
}

async function openHit(hit) {
  const capture = hit.capture;
  const day = localDay(new Date(capture.captured_at));
  if (day !== state.day || capture.device !== state.device) {
    state.day = day;
    state.device = capture.device;
    $("day").value = day;
    $("device").value = capture.device;
    await loadDay(capture.id);
  }
  const index = state.captures.findIndex((c) => c.id === capture.id);
  if (index >= 0) show(index, hit.boxes);
  else showCapture(capture, hit.boxes);
}

function closeResults() {
  $("results").hidden = true;
  $("hits").replaceChildren();
  state.hits = [];
  drawBoxes({ width: 1, height: 1 }, []);
}

// --- delete --------------------------------------------------------------------------------

function confirmDialog(title, text, withRange) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("range-fields").hidden = !withRange;
  dialog.returnValue = "";
  dialog.showModal();
  $(withRange ? "range-from" : "confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

async function deleteOne() {
  const capture = state.captures[state.index];
  if (!capture) return;
  const what = [timeOf(capture), capture.app_name].filter(Boolean).join(", ");
  const ok = await confirmDialog(
    "Delete this capture?",
    `The capture of ${what} goes from the server for good: image, record and its text.`,
    false,
  );
  if (!ok) return;
  const response = await call("DELETE", `${API}/captures/${capture.id}`);
  if (!response.ok && response.status !== 404) {
    status(`Not deleted: ${await problemText(response)}`);
    return;
  }
  const index = state.index;
  state.captures.splice(index, 1);
  renderStrip();
  show(Math.min(index, state.captures.length - 1));
  status("Capture deleted.");
}

async function deleteRange() {
  const capture = state.captures[state.index];
  $("range-from").value = capture ? timeOf(capture) : "00:00:00";
  $("range-to").value = capture ? timeOf(capture) : "23:59:59";
  const ok = await confirmDialog(
    "Delete a time range?",
    `Every capture of ${state.device} on ${state.day} from the first time up to and including ` +
      "the second goes from the server for good.",
    true,
  );
  if (!ok) return;
  const at = (time, extraSecond) => {
    const [h, m, s] = time.split(":").map(Number);
    const [y, mo, d] = state.day.split("-").map(Number);
    return new Date(y, mo - 1, d, h, m, (s || 0) + (extraSecond ? 1 : 0));
  };
  const since = at($("range-from").value || "00:00:00", false);
  const until = at($("range-to").value || "23:59:59", true);
  if (since >= until) {
    status("Not deleted: the range's end is before its start.");
    return;
  }
  const response = await call("POST", `${API}/captures/delete`, {
    device: state.device,
    since: since.toISOString(),
    until: until.toISOString(),
  });
  if (!response.ok) {
    status(`Not deleted: ${await problemText(response)}`);
    return;
  }
  const { deleted } = await response.json();
  status(`Deleted ${deleted} capture${deleted === 1 ? "" : "s"}.`);
  await loadDay();
}

// --- keys ----------------------------------------------------------------------------------

function onKey(event) {
  if ($("app").hidden || $("confirm").open) return;
  const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
  if (event.key === "Escape") {
    if (!$("results").hidden) closeResults();
    if (typing) event.target.blur();
    return;
  }
  if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.key === "ArrowLeft" || event.key === "k") step(-1);
  else if (event.key === "ArrowRight" || event.key === "j") step(1);
  else if (event.key === "/") $("search").focus();
  else return;
  event.preventDefault();
}

// --- wiring --------------------------------------------------------------------------------

function guard(handler) {
  return (...args) =>
    Promise.resolve(handler(...args)).catch((error) => {
      if (!(error instanceof SignedOut)) status(`Something went wrong: ${error.message}`);
    });
}

document.addEventListener("DOMContentLoaded", async () => {
  $("signin-form").addEventListener("submit", guard(signIn));
  $("logout").addEventListener("click", guard(signOut));
  $("device").addEventListener("change", guard(() => {
    state.device = $("device").value;
    return loadDay();
  }));
  $("day").addEventListener("change", guard(() => {
    if ($("day").value) state.day = $("day").value;
    return loadDay();
  }));
  $("prev-day").addEventListener("click", () => shiftDay(-1));
  $("next-day").addEventListener("click", () => shiftDay(1));
  $("scrubber").addEventListener("input", () => show(Number($("scrubber").value)));
  $("search-form").addEventListener("submit", guard(search));
  $("more-hits").addEventListener("click", guard(moreHits));
  $("results-close").addEventListener("click", closeResults);
  $("delete-one").addEventListener("click", guard(deleteOne));
  $("delete-range").addEventListener("click", guard(deleteRange));
  document.addEventListener("keydown", onKey);
  const response = await fetch(`${API}/session`, { credentials: "same-origin", cache: "no-store" });
  if (response.ok) await guard(start)(await response.json());
  else showSignIn("");
});
