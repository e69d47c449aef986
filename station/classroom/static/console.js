// Classroom console: a live view of a training replay, driven only by the server's
// WebSocket messages (hello, state, lines, ack, error); see notes in the console
// contract. Everything is kept client-side and rendered by keyed, in-place updates so
// that ~5 state messages a second do not rebuild the page (nor reset a select or a photo).

const TRANSCRIPT_CAP = 5000; // DOM lines kept; older ones are dropped from the top
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const STEP_ORDER = [
  "arrival", "passenger", "document", "chip", "door", "signal", "occupancy",
  "capture", "verify", "decision", "alarm", "device",
];
const REASONS = [
  ["impostor", "Impostor (not the holder)"],
  ["forged_document", "Forged or altered document"],
  ["invalid_document", "Invalid document (expired…)"],
  ["stop_list", "Stop list (lost or stolen)"],
  ["not_entitled", "Not entitled to this route"],
];
const DOCUMENT_FIELDS = [
  ["document_type", "Type"], ["surname", "Surname"], ["given_names", "Given names"], ["nationality", "Nationality"],
  ["issuing_state", "Issuing state"], ["document_number", "Document no."],
  ["birth_date", "Date of birth"], ["sex", "Sex"], ["expiry_date", "Expiry"],
];
const SIGNAL_LABELS = {
  ready: "ready", wait: "wait", look: "look at the camera", pass: "pass",
  officer: "see an officer", closed: "closed", off: "off",
};

const $ = (selector, root = document) => root.querySelector(selector);

// ---------------------------------------------------------------- DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// Writes only when the value differs: cheap re-renders and no restarted CSS animations.
function setText(node, text) {
  const value = text === null || text === undefined ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

function setAttr(node, name, value) {
  if (value === null || value === undefined) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
    return;
  }
  const text = String(value);
  if (node.getAttribute(name) !== text) node.setAttribute(name, text);
}

function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

function setSrc(img, src) {
  if (!src) {
    if (img.hasAttribute("src")) img.removeAttribute("src");
    img.classList.add("missing");
    return;
  }
  // Compare the attribute, not img.src (absolute), so an unchanged photo is not refetched.
  if (img.getAttribute("src") === src) return;
  img.classList.remove("missing");
  img.setAttribute("src", src);
}

// Keeps container's children equal to items, in order, one node per key; nodes are
// created once and updated in place, so focus, selections and animations survive.
function reconcile(container, nodes, items, keyOf, create, update) {
  const seen = new Set();
  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let node = nodes.get(key);
    if (!node) {
      node = create(item);
      nodes.set(key, node);
    }
    update(node, item);
    if (node === cursor) cursor = cursor.nextElementSibling;
    else container.insertBefore(node, cursor);
  }
  for (const [key, node] of nodes) {
    if (!seen.has(key)) {
      node.remove();
      nodes.delete(key);
    }
  }
}

// Replaces a select's options only when the list changed, keeping the user's choice.
function fillSelect(select, options, { keepBlank = null } = {}) {
  const wanted = (keepBlank === null ? [] : [["", keepBlank]]).concat(options);
  const signature = JSON.stringify(wanted);
  if (select.dataset.options === signature) return;
  const previous = select.value;
  select.replaceChildren(...wanted.map(([value, label]) => el("option", { value, text: label })));
  select.dataset.options = signature;
  if (wanted.some(([value]) => value === previous)) select.value = previous;
}

function seconds(value) {
  return typeof value === "number" ? `${value.toFixed(1)} s` : "";
}

function formatPoints(points) {
  return Number.isInteger(points) ? String(points) : points.toFixed(1);
}

// ---------------------------------------------------------------- client state

const client = {
  role: "viewer",
  state: null,
  identity: null, // which replay the state belongs to; a change resets the page
  lastSeq: 0,
  expectFullLines: false, // the first lines message after (re)connecting holds all lines
  lineCount: 0,
  filterValues: { gate: new Set(), passenger: new Set(), step: new Set() },
  highlighted: null,
  followTranscript: true, // keep the newest line in view unless the user scrolled up
  focusedDecision: null,
  nextRequest: 1,
  pending: new Map(), // request id -> {label, passenger?}
  pendingDesk: new Map(), // passenger -> request id, so a case's buttons wait for the answer
  pendingSpeed: null, // request id of a speed change not yet answered
  laneNodes: new Map(),
  queueNodes: new Map(),
  decisionNodes: new Map(),
  passengerNodes: new Map(),
  caseNodes: new Map(),
  faultNodes: new Map(),
};

// ---------------------------------------------------------------- connection

let socket = null;
let backoff = BACKOFF_MIN_MS;
let reconnectTimer = null;

function socketUrl() {
  const page = new URL(window.location.href);
  const url = new URL("ws", page);
  url.protocol = page.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  const token = page.searchParams.get("token");
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

function showConnection(connected, text) {
  const node = $("#connection");
  setAttr(node, "data-connected", connected ? "true" : "false");
  setText(node, text);
}

function connect() {
  reconnectTimer = null;
  showConnection(false, "connecting…");
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (error) {
    scheduleReconnect();
    return;
  }
  socket = ws;
  ws.addEventListener("open", () => {
    backoff = BACKOFF_MIN_MS;
    client.expectFullLines = true;
    showConnection(true, "live");
  });
  ws.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      console.debug("console: ignoring a message that is not JSON");
      return;
    }
    handle(message);
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    socket = null;
    // Requests in flight will never be answered on a new socket.
    client.pending.clear();
    client.pendingDesk.clear();
    client.pendingSpeed = null;
    if (client.state) renderDesk(client.state);
    scheduleReconnect();
  });
  // "error" is always followed by "close", which does the work.
}

function scheduleReconnect() {
  if (reconnectTimer !== null) return;
  const wait = backoff;
  backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  showConnection(false, `offline, retrying in ${Math.ceil(wait / 1000)} s`);
  reconnectTimer = window.setTimeout(connect, wait);
}

function send(message, label, extra = {}) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showStatus("Not connected: nothing was sent");
    return null;
  }
  const request = client.nextRequest++;
  client.pending.set(request, { label, ...extra });
  socket.send(JSON.stringify({ ...message, request }));
  return request;
}

// ---------------------------------------------------------------- messages

function handle(message) {
  switch (message && message.type) {
    case "hello":
      setRole(message.role);
      client.expectFullLines = true;
      break;
    case "state":
      if (message.state && typeof message.state === "object") renderState(message.state);
      break;
    case "lines":
      if (Array.isArray(message.lines)) addLines(message.lines);
      break;
    case "ack":
      onAnswer(message.request, null, message.result);
      break;
    case "error":
      onAnswer(message.request, String(message.error ?? "error"));
      break;
    default:
      // A newer server may send more kinds of message; this page shows what it knows.
      console.debug("console: unknown message type", message && message.type);
  }
}

function onAnswer(request, error, result = null) {
  const pending = client.pending.get(request);
  client.pending.delete(request);
  if (request === client.pendingSpeed) client.pendingSpeed = null;
  if (pending && pending.passenger !== undefined) {
    client.pendingDesk.delete(pending.passenger);
    if (client.state) renderDesk(client.state);
  }
  if (error !== null) {
    setText($("#errors"), error);
    setText($("#status"), "");
  } else if (pending) {
    // An added passenger's new id ("P03+1") is worth telling; other results are not.
    const added = pending.added && result && typeof result.passenger === "string" ? ` as ${result.passenger}` : "";
    showStatus(`Done: ${pending.label}${added}`);
  }
}

let statusTimer = null;

// Acknowledgements are transient; an error stays until dismissed or replaced.
function showStatus(text) {
  setText($("#status"), text);
  window.clearTimeout(statusTimer);
  statusTimer = window.setTimeout(() => setText($("#status"), ""), 4000);
}

function setRole(role) {
  const known = ["viewer", "instructor", "desk"].includes(role) ? role : "viewer";
  if (client.role === known && document.body.dataset.role === known) return;
  client.role = known;
  document.body.dataset.role = known;
  setText($("#role-badge"), known);
  setHidden($("#transport"), known !== "instructor");
  setHidden($("#instructor"), known !== "instructor");
  setHidden($("#desk"), known === "viewer");
}

// ---------------------------------------------------------------- state

function identityOf(state) {
  const s = state.scenario || {};
  return JSON.stringify([s.name, s.source, s.start]);
}

function renderState(state) {
  const identity = identityOf(state);
  if (client.identity !== null && client.identity !== identity) resetReplay();
  client.identity = identity;
  client.state = state;
  if (state.role) setRole(state.role);
  renderHeader(state);
  renderLanes(state);
  renderQueue(state);
  renderDecisions(state);
  renderPassengers(state);
  renderInstructor(state);
  renderDesk(state);
  renderFinished(state);
  noteFilterValues("gate", (state.scenario && state.scenario.gates) || []);
  noteFilterValues("passenger", (state.passengers || []).map((p) => p.id));
}

// Another replay behind the same URL: forget what belonged to the old one.
function resetReplay() {
  clearTranscript();
  for (const key of Object.keys(client.filterValues)) client.filterValues[key] = new Set();
  client.highlighted = null;
  client.focusedDecision = null;
}

function renderHeader(state) {
  const scenario = state.scenario || {};
  const clock = state.clock || {};
  setText($("#scenario-name"), scenario.name || "egate classroom");
  document.title = scenario.name ? `${scenario.name} · egate console` : "egate classroom console";
  const node = $("#clock");
  setText(node, clock.time || "--:--:--.-");
  setAttr(node, "data-at", clock.at_s ?? 0);
  setAttr(node, "data-paused", clock.paused ? "true" : "false");
  setAttr(node, "data-finished", clock.finished ? "true" : "false");
  const rate = typeof clock.rate === "number" ? `×${clock.rate}` : "";
  setText($("#clock-rate"), clock.finished ? "finished" : clock.paused ? `paused ${rate}` : rate);

  const rates = Array.isArray(clock.rates) ? clock.rates : [];
  const speed = $("#speed");
  fillSelect(speed, rates.map((r) => [String(r), `×${r}`]));
  // Follow the server's rate unless the instructor is choosing one or a change is on its
  // way (a state sent before the server took it would flip the select back and forth).
  if (document.activeElement !== speed && client.pendingSpeed === null && typeof clock.rate === "number") {
    const match = rates.find((r) => Number(r) === clock.rate);
    if (match !== undefined) speed.value = String(match);
  }
  const finished = Boolean(clock.finished);
  for (const id of ["play", "pause", "step-event", "step-decision", "speed"]) {
    const control = document.getElementById(id);
    if (control.disabled !== finished) control.disabled = finished;
  }
  setAttr($("#play"), "aria-pressed", clock.paused ? "false" : "true");
  setAttr($("#pause"), "aria-pressed", clock.paused ? "true" : "false");

  const score = state.desk && state.desk.score;
  const badge = $("#desk-score");
  setHidden(badge, !score);
  if (score) {
    setAttr(badge, "data-points", score.points);
    setAttr(badge, "data-of", score.of);
    setAttr(badge, "data-decided", score.decided);
    setText(badge, `Desk ${formatPoints(Number(score.points) || 0)} of ${score.of}`);
    setAttr(badge, "title", `${score.decided} of ${score.of} referred travellers decided`);
  }
}

// ---------------------------------------------------------------- lanes

function createDoor(which) {
  // Two leaves meeting in the middle, as seen from above; CSS slides them apart.
  return el("div", { class: "door", "data-door": which, "data-position": "unknown" },
    el("span", { class: "leaf leaf-a" }), el("span", { class: "leaf leaf-b" }),
    el("span", { class: "sr-only door-label" }));
}

function createLane(lane) {
  return el("article", { class: "lane", "data-gate": lane.gate, "aria-label": `Gate ${lane.gate}` },
    el("header", { class: "lane-head" },
      el("h3", { class: "lane-name", text: lane.gate }),
      el("span", { class: "lane-state" }),
      el("span", { class: "degraded-badge", text: "DEGRADED" })),
    el("div", { class: "plan" },
      el("span", { class: "plan-side plan-in", text: "in" }),
      createDoor("entry"),
      el("div", { class: "cabin" },
        el("span", { class: "people", "aria-hidden": "true" }),
        el("span", { class: "cabin-label" },
          el("span", { class: "occupancy" }), el("span", { class: "occupancy-unit", text: " inside" }))),
      createDoor("exit"),
      el("span", { class: "plan-side plan-out", text: "out" }),
      el("span", { class: "indicator", "data-signal": "off", "aria-hidden": "true" },
        el("span", { class: "lamp" }))),
    el("dl", { class: "lane-facts" },
      el("dt", { text: "Traveller" }), el("dd", { class: "lane-passenger" }),
      el("dt", { text: "Step" }), el("dd", { class: "lane-step" }),
      el("dt", { text: "Signal" }), el("dd", { class: "lane-signal" })),
    el("p", { class: "lane-devices" }));
}

function updateLane(node, lane) {
  setAttr(node, "data-state", lane.state ?? "unknown");
  setAttr(node, "data-degraded", lane.degraded ? "true" : "false");
  setText($(".lane-state", node), lane.state ?? "");
  const doors = lane.doors || {};
  for (const which of ["entry", "exit"]) {
    const door = $(`.door[data-door="${which}"]`, node);
    const position = doors[which] || "unknown";
    setAttr(door, "data-position", position);
    setText($(".door-label", door), `${which} door ${position}`);
    setAttr(door, "title", `${which} door: ${position}`);
  }
  const signal = lane.indicator || "off";
  const indicator = $(".indicator", node);
  setAttr(indicator, "data-signal", signal);
  setAttr(indicator, "title", `indicator: ${signal}`);
  // In words as well, so the lamp's colour is not the only cue; capture guidance
  // replaces the look signal's words with the instruction and its audit code.
  const guidance = lane.guidance;
  setText($(".lane-signal", node),
    guidance ? `${guidance.text} [${guidance.code}]` : SIGNAL_LABELS[signal] ?? signal);
  setAttr($(".lane-signal", node), "data-signal", signal);
  setAttr($(".lane-signal", node), "data-guidance", guidance ? guidance.code : null);
  const count = Number(lane.occupancy) || 0;
  setText($(".occupancy", node), count);
  setAttr($(".occupancy", node), "data-count", count);
  // One figure per person in the cabin (capped: more than three is already an alarm).
  setText($(".people", node), "●".repeat(Math.min(count, 3)) + (count > 3 ? "+" : ""));
  setText($(".lane-passenger", node), lane.passenger ?? "");
  setText($(".lane-step", node), lane.step ?? "");
  const down = Object.entries(lane.devices || {}).filter(([, up]) => !up).map(([name]) => name);
  setText($(".lane-devices", node), down.length ? `down: ${down.join(", ")}` : "");
}

function renderLanes(state) {
  reconcile($("#lanes"), client.laneNodes, state.lanes || [], (l) => l.gate, createLane, updateLane);
}

function renderQueue(state) {
  const queue = state.queue || [];
  setText($("#queue-count"), queue.length ? `(${queue.length})` : "");
  reconcile($("#queue"), client.queueNodes, queue, (q) => q.passenger,
    (q) => el("span", { class: "queued", "data-passenger": q.passenger },
      el("span", { class: "queued-id", text: q.passenger }), el("span", { class: "queued-wait" })),
    (node, q) => setText($(".queued-wait", node), typeof q.waiting_s === "number" ? `${Math.round(q.waiting_s)} s` : ""));
}

// ---------------------------------------------------------------- decisions

function createDecision(decision) {
  const node = el("article", {
    class: "decision", "data-kind": decision.kind, "data-passenger": decision.passenger ?? "",
    "data-id": decision.id,
  });
  // The whole card is a click target for the mouse; this button is the keyboard's way in.
  const head = el("header", { class: "decision-head" },
    el("span", { class: "decision-kind", text: decision.kind }),
    el("span", { class: "decision-who" }),
    el("span", { class: "decision-verdict" }),
    el("span", { class: "decision-at muted" }),
    el("button", { type: "button", class: "decision-zoom", "aria-pressed": "false",
      "aria-label": `Show decision ${decision.id} large`, text: "⤢" }));
  node.append(head);
  if (decision.kind === "face") {
    node.append(
      el("div", { class: "photos" },
        el("figure", {}, el("img", { class: "chip-photo", alt: `Chip photo (DG2) of ${decision.passenger}`, decoding: "async" }),
          el("figcaption", { text: "Chip (DG2)" })),
        el("figure", {}, el("img", { class: "capture-photo", alt: `Live capture of ${decision.passenger}`, decoding: "async" }),
          el("figcaption", { text: "Live capture" }))),
      el("div", { class: "distance-scale", role: "img" },
        el("span", { class: "scale-band" }),
        el("span", { class: "scale-near" }),
        el("span", { class: "scale-marker scale-threshold" }),
        el("span", { class: "scale-marker scale-distance" }),
        el("span", { class: "scale-end scale-min", text: "0" }),
        el("span", { class: "scale-end scale-max" })),
      el("p", { class: "scale-legend" }));
  } else if (decision.kind === "document") {
    node.append(el("div", { class: "mrz", lang: "zxx" }), el("ul", { class: "mrz-notes" }));
  } else {
    node.append(el("p", { class: "decision-text" }));
  }
  node.addEventListener("click", () => toggleFocus(decision.id));
  node.querySelectorAll("img").forEach((img) => {
    img.addEventListener("error", () => img.classList.add("missing"));
    img.addEventListener("load", () => img.classList.remove("missing"));
  });
  return node;
}

function updateDecision(node, decision) {
  markFocused(node, client.focusedDecision === decision.id);
  setText($(".decision-who", node), [decision.gate, decision.passenger].filter(Boolean).join(" · "));
  setText($(".decision-at", node), seconds(decision.at_s));
  // A presentation attack is never compared with the chip photo: not a "no match".
  const face = decision.kind === "face";
  const verdict = face ? (decision.attack ? "presentation_attack" : decision.decision) : decision.verdict;
  setText($(".decision-verdict", node), verdict ? String(verdict).replace(/_/g, " ") : "");
  setAttr(node, "data-verdict", verdict ?? null);
  if (decision.kind === "face") updateFace(node, decision);
  else if (decision.kind === "document") updateDocument(node, decision);
  else setText($(".decision-text", node), JSON.stringify(decision));
}

function updateFace(node, decision) {
  setSrc($("img.chip-photo", node), decision.chip_photo);
  setSrc($("img.capture-photo", node), decision.capture_photo);
  const distance = Number(decision.distance);
  const threshold = Number(decision.threshold ?? client.state?.scenario?.threshold);
  const haveDistance = Number.isFinite(distance);
  const scaleMax = Math.max(1, haveDistance ? distance : 0, Number.isFinite(threshold) ? threshold : 0);
  const pct = (value) => `${Math.min(100, Math.max(0, (value / scaleMax) * 100)).toFixed(2)}%`;
  const scale = $(".distance-scale", node);
  setAttr(scale, "data-distance", haveDistance ? distance : null);
  setAttr(scale, "data-threshold", Number.isFinite(threshold) ? threshold : null);
  setText($(".scale-max", scale), scaleMax === 1 ? "1" : scaleMax.toFixed(2));
  // The match region: distances below the threshold count as the same person.
  $(".scale-band", scale).style.width = Number.isFinite(threshold) ? pct(threshold) : "0%";
  const near = client.state?.scenario?.near_threshold;
  const band = $(".scale-near", scale);
  if (near && Number.isFinite(near.genuine_above) && Number.isFinite(near.impostor_below)) {
    band.style.left = pct(near.genuine_above);
    band.style.width = `calc(${pct(near.impostor_below)} - ${pct(near.genuine_above)})`;
    setHidden(band, false);
  } else setHidden(band, true);
  const thresholdMarker = $(".scale-threshold", scale);
  setHidden(thresholdMarker, !Number.isFinite(threshold));
  if (Number.isFinite(threshold)) thresholdMarker.style.left = pct(threshold);
  const distanceMarker = $(".scale-distance", scale);
  setHidden(distanceMarker, !haveDistance);
  if (haveDistance) {
    distanceMarker.style.left = pct(distance);
    // Its value label leans inwards at the ends so that it stays inside the card.
    const share = distance / scaleMax;
    distanceMarker.classList.toggle("at-end", share > 0.85);
    distanceMarker.classList.toggle("at-start", share < 0.15);
    setAttr(distanceMarker, "data-value", distance.toFixed(2));
  }
  const summary = `distance ${haveDistance ? distance.toFixed(3) : "none"}, threshold ${
    Number.isFinite(threshold) ? threshold.toFixed(2) : "none"}${decision.reason ? ` · ${decision.reason}` : ""}`;
  setAttr(scale, "aria-label", `Face distance scale: ${summary}`);
  setText($(".scale-legend", node), summary);
  // The flag is an element of its own so that it reads out, not only a colour.
  let flag = $(".near-threshold", node);
  if (decision.near_threshold && !flag) {
    flag = el("span", { class: "near-threshold", text: "near threshold" });
    $(".decision-head", node).insertBefore(flag, $(".decision-at", node));
  } else if (!decision.near_threshold && flag) flag.remove();
  setAttr(node, "data-near", decision.near_threshold ? "true" : "false");
}

function updateDocument(node, decision) {
  const signature = JSON.stringify([decision.mrz, decision.failed, decision.repaired]);
  const mrz = $(".mrz", node);
  if (mrz.dataset.signature !== signature) {
    mrz.dataset.signature = signature;
    mrz.replaceChildren(...(decision.mrz || []).map((line, index) =>
      mrzLine(String(line), index + 1, decision.failed || [], decision.repaired || [])));
  }
  const notes = [];
  for (const f of decision.failed || []) {
    notes.push(el("li", { class: "note-failed" }, `check digit failed: ${f.field} (line ${f.line}, column ${f.column})`));
  }
  for (const r of decision.repaired || []) {
    notes.push(el("li", { class: "note-repaired" },
      `repaired ${r.field}: read as ${r.found}, repaired to ${r.replaced_by} (line ${r.line}, column ${r.column})`));
  }
  const reasons = decision.reasons || [];
  if (reasons.length) notes.push(el("li", { class: "note-reasons" }, reasons.join(", ")));
  const list = $(".mrz-notes", node);
  const noteSignature = JSON.stringify([decision.failed, decision.repaired, reasons]);
  if (list.dataset.signature !== noteSignature) {
    list.dataset.signature = noteSignature;
    list.replaceChildren(...notes);
  }
  setAttr(node, "data-valid", decision.valid === undefined ? null : String(Boolean(decision.valid)));
}

// One MRZ line, with the failed check digits and repaired characters wrapped in spans.
function mrzLine(text, lineNumber, failed, repaired) {
  const marks = new Map(); // 0-based column -> span
  for (const f of failed) {
    if (f.line !== lineNumber) continue;
    marks.set(f.column - 1, { class: "failed", title: `check digit for ${f.field} failed` });
  }
  for (const r of repaired) {
    if (r.line !== lineNumber) continue;
    const previous = marks.get(r.column - 1);
    marks.set(r.column - 1, {
      class: previous ? "repaired failed" : "repaired",
      title: `read as ${r.found}, repaired to ${r.replaced_by}`,
    });
  }
  const line = el("div", { class: "mrz-line" });
  let plain = "";
  for (let i = 0; i < text.length; i += 1) {
    const mark = marks.get(i);
    if (!mark) {
      plain += text[i];
      continue;
    }
    if (plain) line.append(plain);
    plain = "";
    line.append(el("span", { class: mark.class, title: mark.title, text: text[i] }));
  }
  if (plain) line.append(plain);
  return line;
}

function renderDecisions(state) {
  // Newest first: highest id first (ids grow as decisions happen).
  const decisions = [...(state.decisions || [])].sort((a, b) => (b.id ?? 0) - (a.id ?? 0) || (b.at_s ?? 0) - (a.at_s ?? 0));
  if (client.focusedDecision !== null && !decisions.some((d) => d.id === client.focusedDecision)) {
    client.focusedDecision = null;
  }
  reconcile($("#decisions"), client.decisionNodes, decisions, (d) => d.id, createDecision, updateDecision);
  setHidden($("#focus-backdrop"), client.focusedDecision === null);
}

function markFocused(node, focused) {
  node.classList.toggle("focused", focused);
  setAttr($(".decision-zoom", node), "aria-pressed", focused ? "true" : "false");
}

function toggleFocus(id) {
  client.focusedDecision = client.focusedDecision === id ? null : id;
  for (const [key, node] of client.decisionNodes) markFocused(node, key === client.focusedDecision);
  setHidden($("#focus-backdrop"), client.focusedDecision === null);
}

// ---------------------------------------------------------------- passengers

function renderPassengers(state) {
  reconcile($("#passengers tbody"), client.passengerNodes, state.passengers || [], (p) => p.id,
    (p) => el("tr", { class: "passenger-row", "data-passenger": p.id },
      el("th", { scope: "row", text: p.id }), el("td", { class: "p-gate" }),
      el("td", { class: "p-status" }), el("td", { class: "p-outcome" })),
    (row, p) => {
      setText($(".p-gate", row), p.gate ?? "");
      setText($(".p-status", row), (p.status ?? "").replace("_", " "));
      setAttr(row, "data-status", p.status ?? null);
      setText($(".p-outcome", row), p.outcome ?? "");
      setAttr(row, "data-outcome", p.outcome ?? null);
      row.classList.toggle("highlighted", client.highlighted === p.id);
    });
}

function highlightPassenger(id) {
  client.highlighted = id;
  for (const [key, row] of client.passengerNodes) row.classList.toggle("highlighted", key === id);
  const row = client.passengerNodes.get(id);
  if (row) row.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- instructor

function renderInstructor(state) {
  if (client.role !== "instructor") return;
  const gates = (state.scenario && state.scenario.gates) || (state.lanes || []).map((l) => l.gate);
  fillSelect($("#fault-gate"), gates.map((g) => [g, g]));
  const devices = (state.faults && state.faults.devices) || [];
  fillSelect($("#fault-device"), devices.map((d) => [d, d.replace("_", " ")]));
  const catalogue = state.catalogue || [];
  fillSelect($("#add-template"), catalogue.map((c) => [c.id, c.label || c.id]));
  // Nothing is left to disturb once the replay has ended.
  const finished = Boolean(state.clock && state.clock.finished);
  for (const id of ["#inject-fault", "#add-passenger"]) {
    const button = $(id);
    if (button.disabled !== finished) button.disabled = finished;
  }
  const now = state.clock ? state.clock.at_s : 0;
  const active = (state.faults && state.faults.active) || [];
  reconcile($("#active-faults"), client.faultNodes, active, (f) => `${f.gate}/${f.device}/${f.until_s}`,
    (f) => el("li", { class: "fault", "data-gate": f.gate, "data-device": f.device }),
    (node, f) => {
      const left = typeof f.until_s === "number" && typeof now === "number" ? Math.max(0, f.until_s - now) : null;
      setText(node, `${f.gate} ${String(f.device).replace("_", " ")}: until ${seconds(f.until_s)}${left === null ? "" : ` (${Math.ceil(left)} s left)`}`);
    });
}

// ---------------------------------------------------------------- desk

function createCase(c) {
  const reason = el("select", { class: "reason" },
    el("option", { value: "", text: "choose a reason…" }),
    ...REASONS.map(([value, label]) => el("option", { value, text: label })));
  const node = el("article", { class: "case", "data-passenger": c.passenger },
    el("header", { class: "case-head" },
      el("h3", { text: c.passenger }),
      el("span", { class: "case-where muted" }),
      el("span", { class: "case-outcome" })),
    el("div", { class: "photos" },
      el("figure", {}, el("img", { class: "chip-photo", alt: `Chip photo (DG2) of ${c.passenger}`, decoding: "async" }),
        el("figcaption", { text: "Chip (DG2)" })),
      el("figure", {}, el("img", { class: "capture-photo", alt: `Live capture of ${c.passenger}`, decoding: "async" }),
        el("figcaption", { text: "Live capture" }))),
    el("dl", { class: "case-document" }),
    el("p", { class: "case-reasons" }),
    el("p", { class: "case-lookat" }),
    el("div", { class: "case-actions" },
      el("button", { type: "button", "data-decision": "admit", text: "Admit" }),
      el("label", { class: "reason-label" }, el("span", { text: "Reason " }), reason),
      el("button", { type: "button", "data-decision": "refuse", text: "Refuse", disabled: true }),
      el("button", { type: "button", "data-decision": "supervisor", text: "Call supervisor" })),
    el("div", { class: "case-result", hidden: true }));
  node.querySelectorAll("img").forEach((img) => {
    img.addEventListener("error", () => img.classList.add("missing"));
    img.addEventListener("load", () => img.classList.remove("missing"));
  });
  // Refuse needs a reason: the button follows the select (through the one place that decides).
  reason.addEventListener("change", () => {
    if (client.state) renderDesk(client.state);
  });
  node.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-decision]");
    if (!button || button.disabled) return;
    const decision = button.dataset.decision;
    const chosen = decision === "refuse" ? reason.value || null : null;
    const label = `${c.passenger} ${decision}${chosen ? ` (${chosen})` : ""}`;
    const request = send({ type: "desk", passenger: c.passenger, decision, reason: chosen }, label,
      { passenger: c.passenger });
    if (request !== null) {
      client.pendingDesk.set(c.passenger, request);
      if (client.state) renderDesk(client.state);
    }
  });
  return node;
}

function describeAnswer(answer) {
  if (!answer) return "";
  return answer.reason ? `${answer.decision} (${answer.reason.replace("_", " ")})` : answer.decision;
}

function updateCase(node, c) {
  setText($(".case-where", node), [c.gate, seconds(c.at_s)].filter(Boolean).join(" · "));
  setText($(".case-outcome", node), c.outcome ?? "");
  setAttr($(".case-outcome", node), "data-outcome", c.outcome ?? null);
  setSrc($("img.chip-photo", node), c.chip_photo);
  setSrc($("img.capture-photo", node), c.capture_photo);
  const doc = c.document || {};
  const docSignature = JSON.stringify(doc);
  const dl = $(".case-document", node);
  if (dl.dataset.signature !== docSignature) {
    dl.dataset.signature = docSignature;
    const known = DOCUMENT_FIELDS.filter(([key]) => key in doc);
    const others = Object.keys(doc).filter((key) => !DOCUMENT_FIELDS.some(([k]) => k === key))
      .map((key) => [key, key.replace(/_/g, " ")]);
    dl.replaceChildren(...[...known, ...others].flatMap(([key, label]) =>
      [el("dt", { text: label }), el("dd", { "data-field": key, text: doc[key] })]));
  }
  setText($(".case-reasons", node), (c.reasons || []).length ? `Gate reasons: ${c.reasons.join(", ")}` : "");
  setText($(".case-lookat", node), c.look_at ? `Look at: ${c.look_at}` : "");

  const decided = c.decided || null;
  // Once the replay has ended the desk takes no more decisions (the server says "closed").
  const closed = Boolean(client.state?.desk?.closed);
  const pending = client.pendingDesk.has(c.passenger) || closed;
  const actions = $(".case-actions", node);
  setHidden(actions, Boolean(decided));
  const reason = $("select.reason", node);
  for (const button of actions.querySelectorAll("button")) {
    const off = pending || (button.dataset.decision === "refuse" && !reason.value);
    if (button.disabled !== off) button.disabled = off;
  }
  if (reason.disabled !== pending) reason.disabled = pending;
  setAttr(node, "data-verdict", decided ? decided.verdict : null);
  const result = $(".case-result", node);
  setHidden(result, !decided);
  if (decided) {
    const signature = JSON.stringify(decided);
    if (result.dataset.signature !== signature) {
      result.dataset.signature = signature;
      result.replaceChildren(
        el("p", {}, "Decided: ", el("strong", { text: describeAnswer(decided) })),
        el("p", { class: "verdict" }, el("span", { class: "verdict-name", text: String(decided.verdict).replace("_", " ") }),
          ` · ${formatPoints(Number(decided.points) || 0)} point${Number(decided.points) === 1 ? "" : "s"}`),
        el("p", {}, "Expected: ", el("strong", { text: describeAnswer(decided.expected) })));
    }
  }
}

function renderDesk(state) {
  if (client.role === "viewer") return;
  setHidden($("#desk-closed"), !(state.desk && state.desk.closed));
  const cases = (state.desk && state.desk.cases) || [];
  reconcile($("#cases"), client.caseNodes, cases, (c) => c.passenger, createCase, updateCase);
}

// ---------------------------------------------------------------- finished

function renderFinished(state) {
  const card = state.scorecard;
  const banner = $("#finished");
  setHidden(banner, !card);
  if (!card) return;
  const signature = JSON.stringify([card.matched, card.total, card.counts, card.desk]);
  if (banner.dataset.signature === signature) return;
  banner.dataset.signature = signature;
  const items = [];
  if (typeof card.total === "number") {
    items.push(el("li", { class: card.all_matched ? "ok" : "not-ok" },
      el("strong", { text: `${card.matched} of ${card.total}` }), " passengers as expected"));
  }
  for (const [key, count] of Object.entries(card.counts || {})) {
    // "0 of 0" (no such traveller in this scenario) says nothing on a projector.
    if (!count || typeof count !== "object" || count.of === 0) continue;
    items.push(el("li", { "data-count": key },
      el("strong", { text: count.text ?? `${count.n} of ${count.of}` }), ` ${count.label ?? key}`));
  }
  const desk = card.desk;
  if (desk && typeof desk === "object" && desk.points !== undefined) {
    items.push(el("li", { "data-count": "desk" },
      el("strong", { text: `${formatPoints(Number(desk.points) || 0)} of ${desk.of ?? "?"}` }), " desk points"));
  }
  $("#finished-counts").replaceChildren(...items);
}

// ---------------------------------------------------------------- transcript

function clearTranscript() {
  $("#transcript-lines").replaceChildren();
  client.lineCount = 0;
  client.lastSeq = 0;
}

function addLines(lines) {
  let fresh = lines;
  if (client.expectFullLines) {
    // All lines so far: start over rather than guess what the old socket had sent.
    client.expectFullLines = false;
    clearTranscript();
  } else {
    fresh = lines.filter((line) => typeof line.seq !== "number" || line.seq > client.lastSeq);
  }
  if (!fresh.length) return;
  const list = $("#transcript-lines");
  // Only the newest lines that fit under the cap are worth building.
  const toBuild = fresh.length > TRANSCRIPT_CAP ? fresh.slice(-TRANSCRIPT_CAP) : fresh;
  const fragment = document.createDocumentFragment();
  const filter = currentFilter();
  for (const line of toBuild) fragment.append(createLine(line, filter));
  for (const line of fresh) {
    if (typeof line.seq === "number" && line.seq > client.lastSeq) client.lastSeq = line.seq;
  }
  list.append(fragment);
  client.lineCount += toBuild.length;
  while (client.lineCount > TRANSCRIPT_CAP && list.firstElementChild) {
    list.firstElementChild.remove();
    client.lineCount -= 1;
  }
  noteFilterValues("gate", fresh.map((l) => l.gate));
  noteFilterValues("passenger", fresh.map((l) => l.passenger));
  noteFilterValues("step", fresh.map((l) => l.step));
  if (client.followTranscript) list.scrollTop = list.scrollHeight;
}

function createLine(line, filter) {
  const passenger = line.passenger ?? "";
  const node = el("li", {
    class: "line", "data-seq": line.seq ?? "", "data-gate": line.gate ?? "",
    "data-passenger": passenger, "data-step": line.step ?? "", "data-at": line.at_s ?? "",
  },
  el("span", { class: "line-time", text: line.time ?? seconds(line.at_s) }),
  el("span", { class: "line-gate", text: line.gate ?? "" }),
  passenger
    ? el("button", { type: "button", class: "line-passenger", text: passenger, title: `Show ${passenger} in the passengers table` })
    : el("span", { class: "line-passenger none" }),
  el("span", { class: "line-step", text: line.step ?? "" }),
  el("span", { class: "line-text", text: line.text ?? "" }));
  node.hidden = !matches(node, filter);
  return node;
}

function currentFilter() {
  return {
    gate: $("#filter-gate").value,
    passenger: $("#filter-passenger").value,
    step: $("#filter-step").value,
  };
}

function matches(node, filter) {
  return (!filter.gate || node.dataset.gate === filter.gate)
    && (!filter.passenger || node.dataset.passenger === filter.passenger)
    && (!filter.step || node.dataset.step === filter.step);
}

function applyFilter() {
  const filter = currentFilter();
  for (const node of $("#transcript-lines").children) {
    const hidden = !matches(node, filter);
    if (node.hidden !== hidden) node.hidden = hidden;
  }
  const list = $("#transcript-lines");
  if (client.followTranscript) list.scrollTop = list.scrollHeight;
}

function naturalCompare(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}

function noteFilterValues(kind, values) {
  const known = client.filterValues[kind];
  let added = false;
  for (const value of values) {
    if (value && !known.has(value)) {
      known.add(value);
      added = true;
    }
  }
  if (!added) return;
  const sorted = [...known].sort(kind === "step"
    ? (a, b) => rank(a) - rank(b) || naturalCompare(a, b)
    : naturalCompare);
  fillSelect($(`#filter-${kind}`), sorted.map((v) => [v, v]), { keepBlank: "all" });
}

function rank(step) {
  const index = STEP_ORDER.indexOf(step);
  return index === -1 ? STEP_ORDER.length : index;
}

// ---------------------------------------------------------------- input

function control(action, label, extra = {}) {
  if (client.role !== "instructor") return;
  send({ type: "control", action, ...extra }, label);
}

function isTyping(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName));
}

function onKey(event) {
  if (event.key === "Escape" && client.focusedDecision !== null) {
    toggleFocus(client.focusedDecision);
    return;
  }
  if (client.role !== "instructor" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (isTyping(event.target) || client.state?.clock?.finished) return;
  // Space on a focused button already activates that button; the transport's own
  // buttons are the exception, since space there should still mean play/pause.
  const onControl = event.target instanceof HTMLElement
    && event.target.closest("button") && !event.target.closest("#transport");
  if (event.key === " " && !onControl) {
    event.preventDefault();
    if (client.state?.clock?.paused) control("play", "play");
    else control("pause", "pause");
  } else if (event.key === "n" || event.key === "N") {
    control("step_event", "step to the next event");
  } else if (event.key === "d" || event.key === "D") {
    control("step_decision", "step to the next decision");
  }
}

function setLargeType(on) {
  document.documentElement.classList.toggle("large", on);
  setAttr($("#large-type"), "aria-pressed", on ? "true" : "false");
  try {
    window.localStorage.setItem("egate-console-large", on ? "1" : "0");
  } catch (error) {
    // Storage may be off (private window); the choice then lasts for this page only.
  }
}

function wire() {
  $("#play").addEventListener("click", () => control("play", "play"));
  $("#pause").addEventListener("click", () => control("pause", "pause"));
  $("#step-event").addEventListener("click", () => control("step_event", "step to the next event"));
  $("#step-decision").addEventListener("click", () => control("step_decision", "step to the next decision"));
  $("#speed").addEventListener("change", (event) => {
    const rate = Number(event.target.value);
    if (!Number.isFinite(rate) || client.role !== "instructor") return;
    client.pendingSpeed = send({ type: "control", action: "speed", rate }, `speed ×${rate}`);
  });
  $("#fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const gate = $("#fault-gate").value;
    const device = $("#fault-device").value;
    const lasts = Number($("#fault-lasts").value);
    if (!gate || !device) return;
    send({ type: "fault", gate, device, lasts_s: lasts }, `${device} fault at ${gate} for ${lasts} s`);
  });
  $("#add-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const template = $("#add-template").value;
    if (template) send({ type: "add_passenger", template }, `passenger like ${template} added`, { added: true });
  });
  for (const id of ["#filter-gate", "#filter-passenger", "#filter-step"]) {
    $(id).addEventListener("change", applyFilter);
  }
  const lines = $("#transcript-lines");
  // Decided on the user's scrolling, not at append time: a reflow (large type, resize)
  // must not make the transcript stop following.
  lines.addEventListener("scroll", () => {
    client.followTranscript = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
  }, { passive: true });
  $("#dismiss-error").addEventListener("click", () => setText($("#errors"), ""));
  $("#transcript-lines").addEventListener("click", (event) => {
    const button = event.target.closest(".line-passenger");
    if (button && button.textContent) highlightPassenger(button.textContent);
  });
  $("#focus-backdrop").addEventListener("click", () => {
    if (client.focusedDecision !== null) toggleFocus(client.focusedDecision);
  });
  $("#large-type").addEventListener("click", () => setLargeType(!document.documentElement.classList.contains("large")));
  let large = false;
  try {
    large = window.localStorage.getItem("egate-console-large") === "1";
  } catch (error) {
    large = false;
  }
  setLargeType(large);
  document.addEventListener("keydown", onKey);
}

wire();
connect();
