// Regulars sandbox web chat: a stand-in for the Telegram app, driven by the emulator's
// control API on the same origin. Plain modern JavaScript, no build step, no dependencies.
"use strict";

const POLL_MS = 700;
const HIDDEN_POLL_MS = 3000;
const BACKGROUND_POLL_MS = 3000;
const BACKGROUND_POLL_LIMIT = 40;
const NEAR_BOTTOM_PX = 80;
const PRESS_WAIT_SECONDS = 5;
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
const MAX_PHOTO_BYTES = 10 * 1024 * 1024; // Telegram's limit for a photo

const LANGUAGES = { en: "English", "zh-hans": "简体中文", "zh-hant": "繁體中文" };

// Minor-unit exponents (Telegram Payments). Everything not listed has 2.
const CURRENCY_EXPONENTS = new Map([
  ...["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF"].map((c) => [c, 0]),
  ...["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"].map((c) => [c, 3]),
]);

// ---------------------------------------------------------------------------------------------
// Small helpers

const $ = (selector) => document.querySelector(selector);

/** Create an element: h("button", {class: "x", onclick: fn, "data-testid": "y"}, "text"). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** Call the control API; throws ApiError carrying the emulator's description on failure. */
async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`The sandbox is not reachable (${error.message}).`, 0);
  }
  const raw = await response.text();
  let data = null;
  if (raw) {
    try {
      data = JSON.parse(raw);
    } catch {
      data = null;
    }
  }
  if (!response.ok || (data && data.ok === false)) {
    const description =
      (data && (data.description || data.error || data.message)) ||
      raw.trim().slice(0, 200) ||
      `${response.status} ${response.statusText}`;
    throw new ApiError(String(description), response.status);
  }
  return data && typeof data === "object" ? data : {};
}

function initials(name) {
  const trimmed = String(name || "?").trim();
  return (Array.from(trimmed)[0] || "?").toUpperCase();
}

function hue(id) {
  return (Number(id) * 47) % 360;
}

function labelClass(label) {
  const l = String(label || "").toLowerCase();
  if (l.includes("owner") || l.includes("manager")) return "label-manager";
  if (l.includes("cashier") || l.includes("staff")) return "label-cashier";
  if (l) return "label-diner";
  return "";
}

function formatTime(epoch) {
  if (typeof epoch !== "number") return "";
  return new Date(epoch * 1000).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

function dayKey(epoch) {
  if (typeof epoch !== "number") return "";
  const d = new Date(epoch * 1000);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

function formatDay(epoch) {
  return new Date(epoch * 1000).toLocaleDateString("en-GB", {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
  });
}

function formatMoment(value) {
  if (value === null || value === undefined) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString("en-GB", {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit",
  });
}

/** total_amount in minor units → "€12.30" using the currency's exponent, without floats. */
function formatAmount(minor, currency) {
  const code = String(currency || "").toUpperCase();
  const exponent = CURRENCY_EXPONENTS.get(code) ?? 2;
  const amount = Number.isInteger(minor) ? minor : Number.parseInt(String(minor), 10);
  if (Number.isNaN(amount)) return `${minor} ${code}`;
  const digits = String(Math.abs(amount)).padStart(exponent + 1, "0");
  const whole = exponent ? digits.slice(0, -exponent) : digits;
  const decimal = `${amount < 0 ? "-" : ""}${whole}${exponent ? `.${digits.slice(-exponent)}` : ""}`;
  try {
    return new Intl.NumberFormat("en", {
      style: "currency", currency: code,
      minimumFractionDigits: exponent, maximumFractionDigits: exponent,
    }).format(decimal);
  } catch {
    return `${decimal} ${code}`;
  }
}

function describe(error) {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  bot: null,
  users: [],
  selectedId: null,
  // Per selected person:
  cache: new Map(), // render key → {sig, el}
  historySig: "",
  answersSeen: null, // number of callback answers already in the history when first seen
  pendingAnswers: [], // answers already shown from a press response
  deferredAnswers: [], // history answers that arrived while a press was in flight
  pressesInFlight: 0,
  payResults: new Map(), // message_id → {paid, error}
  keyboardSig: "",
  keyboardHidden: false,
  keyboardPlaceholder: "",
  stickToBottom: true,
  // Per person: bot messages seen and known (unread markers).
  seen: new Map(),
  botCounts: new Map(),
  connected: true,
  peopleSig: "",
  codesSig: "",
};

function selectedUser() {
  return state.users.find((u) => u.id === state.selectedId) || null;
}

function userPath(suffix) {
  return `/sandbox/users/${encodeURIComponent(state.selectedId)}/${suffix}`;
}

// ---------------------------------------------------------------------------------------------
// Toasts and alerts

function toast(text, kind = "info", ms) {
  const box = $("#toasts");
  const el = h(
    "div",
    { class: `toast toast-${kind}`, "data-testid": "toast", "data-kind": kind,
      role: kind === "error" ? "alert" : "status" },
    h("span", { class: "toast-text" }, text),
    h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss",
      onclick: () => el.remove() }, "×"),
  );
  box.append(el);
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => el.remove(), ms ?? (kind === "error" ? 8000 : 4500));
  return el;
}

function toastError(error) {
  toast(describe(error), "error");
}

function showAlert(text) {
  const dialog = $("#alert");
  $("#alert-text").textContent = text;
  if (!dialog.open) {
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }
}

/** A callback answer: a toast, an alert, and/or a URL to open (Telegram's answerCallbackQuery). */
function showAnswer(answer) {
  if (!answer) return;
  if (answer.text) {
    if (answer.show_alert) showAlert(answer.text);
    else toast(answer.text, "answer");
  }
  if (typeof answer.url === "string" && answer.url) followUrl(answer.url);
}

function sameAnswer(a, b) {
  if (a.callback_query_id && b.callback_query_id) return a.callback_query_id === b.callback_query_id;
  return (a.text || "") === (b.text || "") && Boolean(a.show_alert) === Boolean(b.show_alert);
}

/** A callback answer found in the history: show it unless the press response already did. */
function handleHistoryAnswer(answer) {
  if (state.pressesInFlight > 0) {
    state.deferredAnswers.push(answer);
    return;
  }
  const now = Date.now();
  state.pendingAnswers = state.pendingAnswers.filter((p) => now - p.at < 30000);
  const index = state.pendingAnswers.findIndex((p) => sameAnswer(p, answer));
  if (index >= 0) state.pendingAnswers.splice(index, 1);
  else showAnswer(answer);
}

function setConnection(ok, message) {
  const banner = $("#connection-banner");
  if (ok) {
    if (!state.connected) toast("Connected to the sandbox again.", "success");
    banner.hidden = true;
  } else {
    banner.textContent = `Can't load the chat: ${message} Retrying…`;
    banner.hidden = false;
  }
  state.connected = ok;
}

// ---------------------------------------------------------------------------------------------
// Bot info and deep links

async function loadBot() {
  try {
    state.bot = await api("GET", "/sandbox/bot");
    const name = state.bot.first_name || "Bot";
    $("#bot-name").textContent = state.bot.username ? `${name} · @${state.bot.username}` : name;
    $("#open-link").placeholder = state.bot.username
      ? `https://t.me/${state.bot.username}?start=… or a start payload`
      : "https://t.me/bot?start=…";
    void loadPrintedCodes();
  } catch (error) {
    $("#bot-name").textContent = `Bot not reachable: ${describe(error)}`;
    setTimeout(loadBot, 2000);
  }
}

/** Is `href` a link to this bot (t.me/<bot>, telegram.me/<bot>, tg://resolve?domain=<bot>)? */
function isBotLink(href) {
  const username = state.bot && state.bot.username ? state.bot.username.toLowerCase() : null;
  if (!username || !href) return false;
  let url;
  try {
    url = new URL(href, window.location.href);
  } catch {
    return false;
  }
  if (url.protocol === "tg:") {
    return (url.hostname === "resolve" || url.pathname.replace(/^\/+/, "") === "resolve") &&
      (url.searchParams.get("domain") || "").toLowerCase() === username;
  }
  const host = url.hostname.toLowerCase();
  if (!["t.me", "www.t.me", "telegram.me", "www.telegram.me"].includes(host)) return false;
  return url.pathname.replace(/^\/+|\/+$/g, "").toLowerCase() === username;
}

function isBotStartLink(href) {
  if (!isBotLink(href)) return false;
  return new URL(href, window.location.href).searchParams.has("start");
}

/** Follow a URL the way the Telegram app would: links to this bot open the chat with /start. */
function followUrl(href) {
  if (isBotStartLink(href)) {
    void openLink(href);
  } else if (isBotLink(href)) {
    toast(`This link opens the chat with @${state.bot.username}: you are already here.`);
  } else {
    window.open(href, "_blank", "noopener,noreferrer");
  }
}

// ---------------------------------------------------------------------------------------------
// People

async function refreshUsers() {
  const data = await api("GET", "/sandbox/users");
  state.users = Array.isArray(data.users) ? data.users.filter((u) => u && u.id !== undefined) : [];
  renderPeople();
  renderChatHeader();
}

function unreadOf(id) {
  if (id === state.selectedId) return 0;
  const total = state.botCounts.get(id);
  const seen = state.seen.get(id);
  if (total === undefined || seen === undefined) return 0;
  return Math.max(0, total - seen);
}

function renderPeople() {
  const list = $("#people");
  const sig = JSON.stringify([state.users, state.selectedId,
    state.users.map((u) => unreadOf(u.id))]);
  if (sig === state.peopleSig) return;
  state.peopleSig = sig;
  const focused = document.activeElement && document.activeElement.closest("#people")
    ? document.activeElement.getAttribute("data-testid") : null;
  let totalUnread = 0;
  list.replaceChildren(...state.users.map((user) => {
    const unread = unreadOf(user.id);
    totalUnread += unread;
    const name = user.first_name || `User ${user.id}`;
    const language = LANGUAGES[user.language_code] ? user.language_code : user.language_code || "—";
    const selected = user.id === state.selectedId;
    const accessible = [name, user.label, user.blocked ? "blocked the bot" : null,
      unread ? `${unread} unread` : null].filter(Boolean).join(", ");
    return h("li", {},
      h("button", {
        type: "button", class: `person${selected ? " selected" : ""}`,
        "data-testid": `person-${user.id}`, "data-person-id": user.id,
        "aria-current": selected ? "true" : null, "aria-label": accessible,
        onclick: () => selectPerson(user.id),
      },
      h("span", { class: "avatar", style: `--hue:${hue(user.id)}`, "aria-hidden": "true" },
        initials(name)),
      h("span", { class: "person-main" },
        h("span", { class: "person-name" }, name,
          user.label ? h("span", { class: `label ${labelClass(user.label)}` }, user.label) : null),
        h("span", { class: "person-meta" }, `id ${user.id} · ${language}`,
          user.blocked ? h("span", { class: "blocked-tag" }, " · blocked") : null)),
      unread ? h("span", { class: "unread", "data-testid": "unread" }, String(unread)) : null));
  }));
  $("#people-empty").hidden = state.users.length > 0;
  document.title = totalUnread ? `(${totalUnread}) Regulars sandbox` : "Regulars sandbox";
  if (focused) {
    const again = list.querySelector(`[data-testid="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function renderChatHeader() {
  const user = selectedUser();
  const toggle = $("#block-toggle");
  const avatar = $("#chat-avatar");
  const banner = $("#blocked-banner");
  if (!user) {
    $("#chat-title").textContent = state.selectedId === null ? "Pick a person" : "Unknown person";
    $("#chat-subtitle").textContent = "";
    avatar.textContent = "";
    avatar.hidden = true;
    toggle.hidden = true;
    banner.hidden = true;
    syncComposer();
    return;
  }
  const name = user.first_name || `User ${user.id}`;
  $("#chat-title").textContent = name;
  const language = LANGUAGES[user.language_code] || user.language_code || "no language";
  $("#chat-subtitle").textContent =
    [user.label, `id ${user.id}`, language].filter(Boolean).join(" · ");
  avatar.hidden = false;
  avatar.textContent = initials(name);
  avatar.style.setProperty("--hue", String(hue(user.id)));
  toggle.hidden = false;
  toggle.textContent = user.blocked ? "Unblock bot" : "Block bot";
  toggle.setAttribute("aria-pressed", user.blocked ? "true" : "false");
  toggle.title = user.blocked
    ? `${name} has blocked the bot. Unblock to receive its messages again.`
    : `Play ${name} blocking the bot (the bot then gets "403 Forbidden").`;
  banner.hidden = !user.blocked;
  banner.textContent = user.blocked
    ? `${name} has blocked the bot: its messages to ${name} fail with "403 Forbidden".`
    : "";
  syncComposer();
}

/** The composer is usable once a person is picked and while they haven't blocked the bot. */
function syncComposer() {
  const user = selectedUser();
  const blocked = Boolean(user && user.blocked);
  const off = state.selectedId === null || blocked;
  const composer = $("#composer");
  composer.disabled = off;
  $("#send").disabled = off;
  $("#attach").disabled = off;
  $("#commands-button").disabled = off;
  for (const button of document.querySelectorAll("#reply-keyboard button")) button.disabled = off;
  composer.placeholder = blocked
    ? "You blocked the bot: unblock it to write"
    : state.keyboardPlaceholder || "Message";
}

function setView(view) {
  $("#app").dataset.view = view;
}

function selectPerson(id, { fromHash = false } = {}) {
  const changed = id !== state.selectedId;
  state.selectedId = id;
  if (changed) {
    state.cache.clear();
    state.historySig = "";
    state.answersSeen = null;
    state.pendingAnswers = [];
    state.deferredAnswers = [];
    state.payResults.clear();
    state.keyboardSig = "";
    state.keyboardHidden = false;
    state.stickToBottom = true;
    $("#messages").replaceChildren();
    delete $("#messages").dataset.loadedFor;
    $("#chat-action").hidden = true;
    $("#jump").hidden = true;
    renderReplyKeyboard(null);
    closeCommands();
  }
  if (!fromHash) history.replaceState(null, "", `#person=${encodeURIComponent(id)}`);
  $("#placeholder").hidden = true;
  renderPeople();
  renderChatHeader();
  setView("chat");
  kick();
  if (window.matchMedia("(min-width: 761px)").matches) $("#composer").focus({ preventScroll: true });
}

function suggestId() {
  const ids = state.users.map((u) => Number(u.id)).filter((n) => Number.isSafeInteger(n));
  return String(Math.max(100000, ...ids) + 1);
}

async function savePerson(event) {
  event.preventDefault();
  const name = $("#person-name").value.trim();
  const idText = $("#person-id").value.trim();
  const label = $("#person-label").value.trim();
  if (!name) {
    toast("Give the person a name.", "error");
    $("#person-name").focus();
    return;
  }
  if (!/^[1-9][0-9]{0,14}$/.test(idText)) {
    toast("The Telegram user id must be a positive whole number.", "error");
    $("#person-id").focus();
    return;
  }
  const body = { id: Number(idText), first_name: name, language_code: $("#person-language").value };
  if (label) body.label = label;
  try {
    await api("POST", "/sandbox/users", body);
    toast(`Saved ${name}.`, "success");
    $("#person-form").reset();
    await refreshUsers();
    $("#person-id").value = suggestId();
    selectPerson(body.id);
  } catch (error) {
    toastError(error);
  }
}

async function toggleBlock() {
  const user = selectedUser();
  if (!user) return;
  const action = user.blocked ? "unblock" : "block";
  const button = $("#block-toggle");
  button.disabled = true;
  try {
    await api("POST", userPath(action));
    user.blocked = !user.blocked;
    state.peopleSig = "";
    renderPeople();
    renderChatHeader();
    toast(user.blocked ? `${user.first_name} blocked the bot.` : `${user.first_name} unblocked the bot.`,
      "success");
    await refreshUsers();
  } catch (error) {
    toastError(error);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Conversation rendering

function renderText(msg) {
  const html = typeof msg.parse_mode_html === "string" ? msg.parse_mode_html : "";
  const plain = msg.text ?? msg.caption ?? "";
  if (!html && !plain) return null;
  const div = h("div", { class: "text", "data-testid": "msg-text" });
  if (html) div.innerHTML = html; // Safe HTML produced (and escaped) by the emulator.
  else div.textContent = String(plain);
  for (const link of div.querySelectorAll("a[href]")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  return div;
}

function renderPhoto(photo) {
  const url = String(photo.url);
  const img = h("img", {
    src: url, alt: "Photo from the chat", loading: "lazy", decoding: "async",
    width: photo.width || null, height: photo.height || null, "data-testid": "photo",
  });
  img.addEventListener("load", () => {
    if (state.stickToBottom) scrollToBottom();
  });
  // Where the browser can read QR codes (Chrome on Android and macOS), a photo can be "scanned":
  // its link lands in the "Scan a QR / open link" field, ready for whoever scans it.
  const scan = "BarcodeDetector" in window
    ? h("button", { type: "button", class: "scan", "data-testid": "scan-photo",
      onclick: () => scanPhoto(img) }, "Scan this QR")
    : null;
  // As in Telegram, the photo shows no link of its own: tapping it opens the full image.
  return h("figure", { class: "photo" },
    h("a", { href: url, target: "_blank", rel: "noopener noreferrer", title: "Open the image" }, img),
    scan);
}

async function scanPhoto(img) {
  try {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const codes = await detector.detect(img);
    if (!codes.length) {
      toast("No QR code found in this image.", "error");
      return;
    }
    $("#open-link").value = codes[0].rawValue;
    toast(`Scanned: ${codes[0].rawValue}\nPick the person who scans it, then press Open.`,
      "success");
  } catch (error) {
    toast(`This browser could not read the code: ${describe(error)}`, "error");
  }
}

function renderDocument(doc) {
  const name = doc.file_name || "document";
  return h("a", {
    class: "document", href: String(doc.url), download: name, "data-testid": "document",
  },
  h("span", { class: "document-icon", "aria-hidden": "true" }, "⬇"),
  h("span", { class: "document-text" },
    h("span", { class: "document-name" }, name),
    h("span", { class: "document-type muted small" }, doc.mime_type || "file")));
}

// Icons drawn as SVG, so they show on machines without an emoji font (CI, servers).
const ICONS = {
  camera: '<path d="M4 7h3l2-2.5h6L17 7h3a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 '
    + '1-1z"/><circle cx="12" cy="13" r="3.5"/>',
  link: '<path d="M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"/>',
};

function icon(name) {
  const span = h("span", { class: "icon", "aria-hidden": "true" });
  span.innerHTML = '<svg viewBox="0 0 24 24" width="1em" height="1em" fill="none" '
    + 'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    + `${ICONS[name]}</svg>`; // Static markup, no data in it.
  return span;
}

/** A link the person opened: what they scanned (a code the app registered), not /start …. */
function renderOpened(msg) {
  const opened = msg.opened;
  return h("div", {
    class: "text opened", "data-testid": "msg-text", "data-kind": opened.kind || "link",
    title: String(msg.text ?? ""),
  },
  icon(opened.label ? "camera" : "link"),
  opened.label ? `Scanned: ${opened.label}` : "Opened a link");
}

function renderInvoice(msg) {
  const invoice = msg.invoice;
  const amount = formatAmount(invoice.total_amount, invoice.currency);
  const result = state.payResults.get(msg.message_id);
  let action;
  if (msg.paid) {
    action = h("span", { class: "paid", "data-testid": "paid" }, "✓ Paid");
  } else {
    const label = `Pay ${amount}`;
    action = h("button", {
      type: "button", class: "primary pay", "data-testid": "pay", "data-label": label,
      onclick: (event) => pay(msg, event.currentTarget),
    }, label);
  }
  return h("div", { class: "invoice", role: "group", "aria-label": `Invoice: ${invoice.title || ""}`,
    "data-testid": "invoice" },
  h("div", { class: "invoice-kicker muted small" }, "Invoice"),
  invoice.title ? h("div", { class: "invoice-title" }, invoice.title) : null,
  invoice.description ? h("div", { class: "invoice-description" }, invoice.description) : null,
  h("div", { class: "invoice-amount", "data-testid": "invoice-amount" }, amount),
  action,
  result && !msg.paid
    ? h("div", { class: `pay-result ${result.paid ? "ok" : "failed"}`, "data-testid": "pay-result",
      role: "status" }, result.paid ? "Payment sent." : `Payment failed: ${result.error}`)
    : null);
}

function renderPayment(payment) {
  const amount = formatAmount(payment.total_amount, payment.currency);
  return h("div", { class: "payment", "data-testid": "payment" },
    h("span", { class: "payment-icon", "aria-hidden": "true" }, "✓"),
    `Paid ${amount}`);
}

function inlineButton(msg, button) {
  const text = String(button.text ?? "");
  const make = (attrs, onclick) => h("button", {
    type: "button", class: "inline-button", "data-testid": "inline-button", ...attrs,
    onclick: onclick ? (event) => onclick(event.currentTarget) : null,
  }, text, attrs["data-kind"] === "url" ? h("span", { class: "kind", "aria-hidden": "true" }, "↗")
    : null);
  if (button.pay) {
    if (msg.invoice) return null; // The invoice card carries the Pay button.
    return make({ "data-kind": "pay", "data-testid": "pay" }, (el) => pay(msg, el));
  }
  if (typeof button.callback_data === "string") {
    return make({ "data-kind": "callback", "data-callback": button.callback_data },
      (el) => press(msg, button, el));
  }
  if (typeof button.url === "string") {
    const startLink = isBotStartLink(button.url);
    return make({ "data-kind": startLink ? "deeplink" : "url", "data-url": button.url,
      title: button.url }, () => followUrl(button.url));
  }
  const webUrl = (button.web_app && button.web_app.url) || (button.login_url && button.login_url.url);
  if (typeof webUrl === "string") {
    return make({ "data-kind": "url", "data-url": webUrl, title: webUrl },
      () => window.open(webUrl, "_blank", "noopener,noreferrer"));
  }
  if (button.copy_text && typeof button.copy_text.text === "string") {
    return make({ "data-kind": "copy" }, async () => {
      try {
        await navigator.clipboard.writeText(button.copy_text.text);
        toast("Copied to the clipboard.", "success");
      } catch {
        toast(`Copy this: ${button.copy_text.text}`);
      }
    });
  }
  return make({ "data-kind": "unsupported", disabled: true,
    title: "This kind of button is not emulated by the sandbox" });
}

function renderInlineKeyboard(msg) {
  const rows = msg.reply_markup && Array.isArray(msg.reply_markup.inline_keyboard)
    ? msg.reply_markup.inline_keyboard : [];
  const rendered = rows
    .map((row) => (Array.isArray(row) ? row : []).map((b) => (b ? inlineButton(msg, b) : null))
      .filter(Boolean))
    .filter((row) => row.length)
    .map((buttons) => h("div", { class: "inline-row" }, buttons));
  if (!rendered.length) return null;
  return h("div", { class: "inline-keyboard", role: "group", "aria-label": "Message buttons" },
    rendered);
}

function renderMessage(msg) {
  const from = msg.from === "user" ? "user" : "bot";
  const bubble = h("div", { class: "bubble" });
  if (msg.photo && msg.photo.url) bubble.append(renderPhoto(msg.photo));
  if (msg.document && msg.document.url) bubble.append(renderDocument(msg.document));
  if (msg.invoice) bubble.append(renderInvoice(msg));
  if (msg.successful_payment) bubble.append(renderPayment(msg.successful_payment));
  const text = msg.opened ? renderOpened(msg) : renderText(msg);
  if (text && !(msg.invoice && (msg.text ?? msg.caption) === msg.invoice.description)) {
    bubble.append(text);
  }
  if (!bubble.childElementCount) bubble.append(h("div", { class: "text muted" }, "(empty message)"));
  bubble.append(h("div", { class: "meta" },
    msg.edited ? h("span", { class: "edited" }, "edited") : null,
    h("time", { datetime: typeof msg.date === "number"
      ? new Date(msg.date * 1000).toISOString() : null }, formatTime(msg.date))));
  return h("article", {
    class: `msg msg-${from}`, "data-testid": "msg", "data-from": from,
    "data-message-id": msg.message_id ?? "",
    "aria-label": from === "bot" ? "Bot message" : "Your message",
  },
  bubble,
  from === "bot" ? renderInlineKeyboard(msg) : null);
}

function renderServiceItem(item) {
  const text = item.text || item.description || String(item.kind || "event").replaceAll("_", " ");
  return h("div", { class: "service", "data-testid": "service" }, h("span", {}, text));
}

/** Put exactly `elements` into `container` in order, moving nodes only where needed. */
function reconcile(container, elements) {
  elements.forEach((el, index) => {
    const current = container.children[index];
    if (current !== el) container.insertBefore(el, current || null);
  });
  while (container.children.length > elements.length) container.lastElementChild.remove();
}

function scrollToBottom() {
  const scroller = $("#scroller");
  scroller.scrollTop = scroller.scrollHeight;
}

function applyHistory(messages) {
  // Callback answers: transient, shown as toasts or alerts, never as bubbles.
  const answers = messages.filter((m) => m.kind === "callback_answer");
  if (state.answersSeen === null) {
    state.answersSeen = answers.length;
  } else if (answers.length > state.answersSeen) {
    for (const answer of answers.slice(state.answersSeen)) handleHistoryAnswer(answer);
    state.answersSeen = answers.length;
  }

  const action = messages.filter((m) => m.kind === "chat_action").pop();
  const typing = $("#chat-action");
  typing.textContent = action ? action.text || "The bot is busy…" : "";
  if (typing.hidden !== !action) {
    typing.hidden = !action;
    if (state.stickToBottom) scrollToBottom();
  }

  const chat = messages.filter((m) => m.kind !== "callback_answer" && m.kind !== "chat_action");
  const botCount = chat.filter((m) => m.from === "bot").length;
  state.botCounts.set(state.selectedId, botCount);
  state.seen.set(state.selectedId, botCount);

  updateReplyKeyboard(chat);
  const sig = JSON.stringify([chat, [...state.payResults], state.bot && state.bot.username]);
  if (sig !== state.historySig) {
    state.historySig = sig;
    renderConversation(chat);
  }
  // A hook for tests and tools: this person's history has been shown at least once.
  $("#messages").dataset.loadedFor = String(state.selectedId);
  renderPeople();
}

function renderConversation(chat) {
  const container = $("#messages");
  const wasAtBottom = state.stickToBottom;
  const previousCount = container.querySelectorAll("[data-testid=msg]").length;
  const next = new Map();
  const elements = [];
  let lastDay = null;
  chat.forEach((msg, index) => {
    const day = dayKey(msg.date);
    if (day && day !== lastDay) {
      lastDay = day;
      const key = `day:${day}`;
      const cached = state.cache.get(key);
      const el = cached ? cached.el
        : h("div", { class: "day", role: "separator" }, h("span", {}, formatDay(msg.date)));
      next.set(key, { sig: day, el });
      elements.push(el);
    }
    const isMessage = msg.from === "bot" || msg.from === "user";
    const key = isMessage && msg.message_id !== undefined && msg.message_id !== null
      ? `${msg.from}:${msg.message_id}` : `item:${index}`;
    const sig = JSON.stringify([msg, msg.invoice ? state.payResults.get(msg.message_id) : null]);
    const cached = state.cache.get(key);
    const el = cached && cached.sig === sig ? cached.el
      : isMessage ? renderMessage(msg) : renderServiceItem(msg);
    next.set(key, { sig, el });
    elements.push(el);
  });
  state.cache = next;
  reconcile(container, elements);
  const empty = !chat.length;
  container.classList.toggle("is-empty", empty);
  if (empty) {
    container.replaceChildren(h("p", { class: "empty muted", "data-testid": "empty-chat" },
      "No messages yet. Send /start to begin."));
    state.cache.clear();
  } else {
    const emptyNote = container.querySelector("[data-testid=empty-chat]");
    if (emptyNote) emptyNote.remove();
  }
  const count = container.querySelectorAll("[data-testid=msg]").length;
  if (wasAtBottom) {
    scrollToBottom();
  } else if (count > previousCount) {
    $("#jump").hidden = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Reply keyboard

function currentReplyKeyboard(chat) {
  let keyboard = null;
  let usedAfter = false;
  for (const msg of chat) {
    const markup = msg.reply_markup;
    if (msg.from === "bot" && markup) {
      if (Array.isArray(markup.keyboard)) {
        keyboard = markup;
        usedAfter = false;
      } else if (markup.remove_keyboard) {
        keyboard = null;
      }
    } else if (msg.from === "user" && keyboard) {
      usedAfter = true;
    }
  }
  if (keyboard && keyboard.one_time_keyboard && usedAfter) return { markup: keyboard, folded: true };
  return keyboard ? { markup: keyboard, folded: false } : null;
}

function updateReplyKeyboard(chat) {
  const current = currentReplyKeyboard(chat);
  const sig = JSON.stringify(current);
  if (sig === state.keyboardSig) return;
  state.keyboardSig = sig;
  state.keyboardHidden = current ? current.folded : false;
  renderReplyKeyboard(current ? current.markup : null);
}

function renderReplyKeyboard(markup) {
  const box = $("#reply-keyboard");
  const toggle = $("#keyboard-toggle");
  state.keyboardPlaceholder = (markup && markup.input_field_placeholder) || "";
  syncComposer();
  if (!markup) {
    box.replaceChildren();
    box.hidden = true;
    toggle.hidden = true;
    return;
  }
  box.replaceChildren(...markup.keyboard.map((row) => h("div", { class: "reply-row" },
    (Array.isArray(row) ? row : []).map((button) => {
      const text = typeof button === "string" ? button : String((button && button.text) ?? "");
      return h("button", {
        type: "button", class: "reply-button", "data-testid": "reply-button",
        onclick: () => {
          if (markup.one_time_keyboard) setKeyboardHidden(true);
          void sendText(text);
        },
      }, text);
    }))));
  toggle.hidden = false;
  setKeyboardHidden(state.keyboardHidden);
  syncComposer();
}

function setKeyboardHidden(hidden) {
  state.keyboardHidden = hidden;
  const box = $("#reply-keyboard");
  const toggle = $("#keyboard-toggle");
  box.hidden = hidden || !box.childElementCount;
  toggle.setAttribute("aria-pressed", hidden ? "false" : "true");
  toggle.setAttribute("aria-label", hidden ? "Show the bot keyboard" : "Hide the bot keyboard");
}

// ---------------------------------------------------------------------------------------------
// Actions

async function sendText(raw) {
  const text = String(raw).trim();
  if (!text) return false;
  if (state.selectedId === null) {
    toast("Pick a person first.", "error");
    return false;
  }
  state.stickToBottom = true;
  try {
    await api("POST", userPath("send"), { text });
    return true;
  } catch (error) {
    toastError(error);
    return false;
  } finally {
    kick();
  }
}

async function submitComposer(event) {
  if (event) event.preventDefault();
  const composer = $("#composer");
  const text = composer.value;
  if (!text.trim()) return;
  composer.value = "";
  autogrow();
  const ok = await sendText(text);
  if (!ok && !composer.value) {
    composer.value = text;
    autogrow();
  }
}

/** Read a chosen file as base64 (no "data:…;base64," prefix). */
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => reject(reader.error || new Error("the file could not be read"));
    reader.readAsDataURL(file);
  });
}

/** Send the chosen image as a photo, with the message box's text as its caption. */
async function sendPhoto(file) {
  if (!file) return;
  if (state.selectedId === null) {
    toast("Pick a person first.", "error");
    return;
  }
  if (!PHOTO_TYPES.includes(file.type)) {
    toast("Choose a JPEG, PNG or WebP image to send as a photo.", "error");
    return;
  }
  if (file.size > MAX_PHOTO_BYTES) {
    toast("Telegram takes photos up to 10 MB: choose a smaller image.", "error");
    return;
  }
  const composer = $("#composer");
  const caption = composer.value.trim();
  const attach = $("#attach");
  attach.disabled = true;
  attach.setAttribute("aria-busy", "true");
  state.stickToBottom = true;
  try {
    const body = { photo_base64: await readBase64(file) };
    if (caption) body.caption = caption;
    await api("POST", userPath("send_photo"), body);
    if (composer.value.trim() === caption) {
      composer.value = "";
      autogrow();
    }
  } catch (error) {
    toastError(error);
  } finally {
    attach.removeAttribute("aria-busy");
    syncComposer();
    kick();
  }
}

async function press(msg, button, el) {
  if (state.selectedId === null) return;
  el.disabled = true;
  el.setAttribute("aria-busy", "true");
  state.pressesInFlight += 1;
  const personId = state.selectedId;
  try {
    const result = await api("POST", userPath("press"), {
      message_id: msg.message_id, data: button.callback_data, wait: PRESS_WAIT_SECONDS,
    });
    if (result.answer && personId === state.selectedId) {
      const answer = { callback_query_id: result.callback_query_id, ...result.answer };
      state.pendingAnswers.push({ ...answer, at: Date.now() });
      showAnswer(answer);
    }
  } catch (error) {
    toastError(error);
  } finally {
    state.pressesInFlight -= 1;
    el.disabled = false;
    el.removeAttribute("aria-busy");
    if (state.pressesInFlight === 0) {
      for (const answer of state.deferredAnswers.splice(0)) handleHistoryAnswer(answer);
    }
    kick();
  }
}

async function pay(msg, el) {
  if (state.selectedId === null) return;
  el.disabled = true;
  el.setAttribute("aria-busy", "true");
  el.textContent = "Paying…";
  try {
    const result = await api("POST", userPath("pay"), { message_id: msg.message_id });
    if (result.paid) {
      state.payResults.set(msg.message_id, { paid: true });
      toast("Payment succeeded.", "success");
    } else {
      const reason = result.error_message || "the bot declined the payment.";
      state.payResults.set(msg.message_id, { paid: false, error: reason });
      toast(`Payment failed: ${reason}`, "error");
    }
  } catch (error) {
    state.payResults.set(msg.message_id, { paid: false, error: describe(error) });
    toastError(error);
  } finally {
    el.disabled = false;
    el.removeAttribute("aria-busy");
    el.textContent = el.dataset.label || "Pay";
    state.historySig = "";
    kick();
  }
}

async function openLink(raw) {
  let url = String(raw || "").trim();
  if (!url) {
    toast("Paste a deep link such as https://t.me/<bot>?start=<payload>.", "error");
    return false;
  }
  if (state.selectedId === null) {
    toast("Pick the person who scans the code first.", "error");
    return false;
  }
  // A bare start payload (what a QR usually carries after the link) is accepted too.
  if (/^[A-Za-z0-9_-]{1,64}$/.test(url) && state.bot && state.bot.username) {
    url = `https://t.me/${state.bot.username}?start=${url}`;
  }
  state.stickToBottom = true;
  try {
    const result = await api("POST", userPath("open"), { url });
    const user = selectedUser();
    const who = user ? user.first_name : "The person";
    toast(result.label ? `${who} scanned ${result.label}.` : `${who} opened the link.`, "success");
    return true;
  } catch (error) {
    toastError(error);
    return false;
  } finally {
    kick();
  }
}

// Codes printed in the restaurant (table stickers, members' cards, coupons at the counter), as
// the app registered them: listed to scan with one tap, and offered in the link field.
const CODE_GROUPS = {
  table: { title: "Tables", empty: "No table codes." },
  card: { title: "Member cards", empty: "None yet: a diner becomes a member by paying." },
  coupon: { title: "Coupons", empty: "None yet: a member taps Use on a coupon in /wallet." },
};

async function loadPrintedCodes() {
  let codes;
  try {
    const data = await api("GET", "/sandbox/codes");
    codes = Array.isArray(data.codes) ? data.codes.filter((c) => c && c.url) : [];
  } catch (error) {
    console.warn("printed codes unavailable", error);
    return;
  }
  const sig = JSON.stringify(codes);
  if (sig === state.codesSig) return;
  state.codesSig = sig;
  $("#printed-codes").replaceChildren(...codes.map((code) => {
    const option = document.createElement("option");
    option.value = code.url;
    option.label = code.label;
    option.textContent = code.label;
    return option;
  }));
  renderCodes(codes);
}

function renderCodes(codes) {
  const kinds = [...new Set([...Object.keys(CODE_GROUPS), ...codes.map((c) => String(c.kind))])];
  $("#codes-count").textContent = `(${codes.length})`;
  $("#codes-list").replaceChildren(...kinds.map((kind) => {
    const group = CODE_GROUPS[kind] || { title: kind.replaceAll("_", " "), empty: "None." };
    const mine = codes.filter((c) => c.kind === kind);
    return h("div", { class: "code-group", role: "group", "aria-label": group.title,
      "data-testid": `codes-${kind}` },
    h("span", { class: "code-group-title" }, group.title),
    mine.length
      ? mine.map((code) => h("button", {
        type: "button", class: "chip code", "data-testid": "code", "data-kind": kind,
        "data-payload": code.payload || "", title: code.url,
        onclick: () => void openLink(code.url),
      }, code.label))
      : h("span", { class: "muted small" }, group.empty));
  }));
}

async function submitOpenLink(event) {
  event.preventDefault();
  const input = $("#open-link");
  if (await openLink(input.value)) input.value = "";
}

async function moveClock(seconds, label) {
  const status = $("#clock-status");
  const buttons = document.querySelectorAll(".clock button");
  buttons.forEach((b) => { b.disabled = true; });
  status.textContent = `Moving the clock ${label}…`;
  try {
    const result = await api("POST", "/sandbox/clock", { advance_seconds: seconds });
    const now = result.now ?? result.time ?? result.clock ?? result.current ?? null;
    const message = `Clock moved ${label}${now !== null ? ` — now ${formatMoment(now)}` : "."}`;
    status.textContent = message;
    toast(message, "success");
  } catch (error) {
    status.textContent = `Clock not moved: ${describe(error)}`;
    toast(`Clock not moved: ${describe(error)}`, "error");
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    kick();
  }
}

function describeSeconds(seconds) {
  if (seconds % 86400 === 0) return `+${seconds / 86400} day${seconds === 86400 ? "" : "s"}`;
  if (seconds % 3600 === 0) return `+${seconds / 3600} h`;
  return `+${Math.round(seconds / 60)} min`;
}

async function submitCustomClock(event) {
  event.preventDefault();
  const amount = Number($("#clock-amount").value);
  if (!Number.isInteger(amount) || amount < 1) {
    toast("Enter a whole number of at least 1.", "error");
    $("#clock-amount").focus();
    return;
  }
  const seconds = amount * Number($("#clock-unit").value);
  setCustomClockOpen(false);
  await moveClock(seconds, describeSeconds(seconds));
}

function setCustomClockOpen(open) {
  $("#clock-custom").hidden = !open;
  $("#clock-custom-toggle").setAttribute("aria-expanded", open ? "true" : "false");
  if (open) $("#clock-amount").focus();
}

// ---------------------------------------------------------------------------------------------
// Commands menu

function closeCommands() {
  const menu = $("#commands-menu");
  if (menu.hidden) return;
  menu.hidden = true;
  $("#commands-button").setAttribute("aria-expanded", "false");
}

async function openCommands() {
  const menu = $("#commands-menu");
  const button = $("#commands-button");
  if (state.selectedId === null) {
    toast("Pick a person first.", "error");
    return;
  }
  menu.replaceChildren(h("p", { class: "muted small menu-note" }, "Loading commands…"));
  menu.hidden = false;
  button.setAttribute("aria-expanded", "true");
  let commands;
  try {
    const data = await api("GET", userPath("commands"));
    commands = Array.isArray(data.commands) ? data.commands : [];
  } catch (error) {
    closeCommands();
    toastError(error);
    return;
  }
  if (menu.hidden) return;
  if (!commands.length) {
    menu.replaceChildren(h("p", { class: "muted small menu-note" },
      "The bot has set no commands for this person."));
    return;
  }
  menu.replaceChildren(...commands.map((c) => h("button", {
    type: "button", role: "menuitem", class: "command", "data-testid": "command-item",
    "data-command": c.command,
    onclick: () => {
      closeCommands();
      $("#composer").focus();
      void sendText(`/${c.command}`);
    },
  }, h("span", { class: "command-name" }, `/${c.command}`),
  h("span", { class: "command-description muted" }, c.description || ""))));
  menu.querySelector("button").focus();
}

function onCommandsKey(event) {
  const items = [...$("#commands-menu").querySelectorAll("button")];
  const index = items.indexOf(document.activeElement);
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    const target = items[(index + step + items.length) % items.length];
    if (target) target.focus();
  } else if (event.key === "Escape") {
    closeCommands();
    $("#commands-button").focus();
  }
}

// ---------------------------------------------------------------------------------------------
// Stats

async function loadStats() {
  const body = $("#stats-body");
  try {
    const data = await api("GET", "/sandbox/stats");
    const entries = Object.entries(data).filter(([key]) => key !== "ok");
    const show = (value) => {
      if (value && typeof value === "object" && !Array.isArray(value)) {
        const rows = Object.entries(value);
        if (!rows.length) return h("span", { class: "muted" }, "none");
        return h("ul", { class: "stats-list" },
          rows.map(([k, v]) => h("li", {}, h("span", {}, k), h("span", {}, JSON.stringify(v)))));
      }
      return typeof value === "string" ? value : JSON.stringify(value);
    };
    body.replaceChildren(...entries.flatMap(([key, value]) => [
      h("dt", {}, key.replaceAll("_", " ")),
      h("dd", {}, show(value)),
    ]));
    if (!entries.length) body.replaceChildren(h("dd", { class: "muted" }, "No stats."));
  } catch (error) {
    body.replaceChildren(h("dd", { class: "error-text" }, describe(error)));
  }
}

// ---------------------------------------------------------------------------------------------
// Polling

const poller = { timer: null, running: false, again: false };

function schedulePoll(ms) {
  clearTimeout(poller.timer);
  poller.timer = setTimeout(runPoll, ms);
}

/** Fetch the selected person's history now (and keep polling). */
function kick() {
  schedulePoll(0);
}

async function runPoll() {
  if (poller.running) {
    poller.again = true;
    return;
  }
  poller.running = true;
  try {
    await pollHistory();
  } finally {
    poller.running = false;
  }
  if (poller.again) {
    poller.again = false;
    schedulePoll(0);
  } else {
    schedulePoll(document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }
}

async function pollHistory() {
  const id = state.selectedId;
  if (id === null) return;
  let data;
  try {
    data = await api("GET", `/sandbox/users/${encodeURIComponent(id)}/history`);
  } catch (error) {
    if (id === state.selectedId) setConnection(false, describe(error));
    return;
  }
  if (id !== state.selectedId) return;
  setConnection(true);
  const fresh = data.user;
  const known = selectedUser();
  if (fresh && known && typeof fresh.blocked === "boolean" && fresh.blocked !== known.blocked) {
    known.blocked = fresh.blocked;
    state.peopleSig = "";
    renderPeople();
    renderChatHeader();
  }
  const messages = (Array.isArray(data.messages) ? data.messages : [])
    .filter((m) => m && typeof m === "object");
  applyHistory(messages);
}

async function pollBackground() {
  try {
    await refreshUsers();
    const others = state.users.filter((u) => u.id !== state.selectedId)
      .slice(0, BACKGROUND_POLL_LIMIT);
    await Promise.all(others.map(async (user) => {
      try {
        const data = await api("GET", `/sandbox/users/${encodeURIComponent(user.id)}/history`);
        const messages = Array.isArray(data.messages) ? data.messages : [];
        const count = messages.filter((m) => m && m.from === "bot").length;
        state.botCounts.set(user.id, count);
        if (!state.seen.has(user.id)) state.seen.set(user.id, count);
      } catch {
        // The selected chat's banner reports connection trouble; unread markers just wait.
      }
    }));
    renderPeople();
    if ($("#codes").open && !document.hidden) await loadPrintedCodes();
  } catch (error) {
    if (state.selectedId === null) setConnection(false, describe(error));
  }
  setTimeout(pollBackground, document.hidden ? HIDDEN_POLL_MS * 3 : BACKGROUND_POLL_MS);
}

// ---------------------------------------------------------------------------------------------
// Wiring

function autogrow() {
  const composer = $("#composer");
  composer.style.height = "auto";
  composer.style.height = `${Math.min(composer.scrollHeight, 160)}px`;
}

function personFromHash() {
  const match = /person=([^&]+)/.exec(window.location.hash);
  if (!match) return null;
  const id = Number(decodeURIComponent(match[1]));
  return Number.isSafeInteger(id) ? id : null;
}

function wire() {
  $("#composer-form").addEventListener("submit", submitComposer);
  $("#composer").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void submitComposer();
    }
  });
  $("#composer").addEventListener("input", autogrow);
  $("#attach").addEventListener("click", () => $("#photo-input").click());
  $("#photo-input").addEventListener("change", (event) => {
    const input = event.currentTarget;
    const file = input.files && input.files[0];
    input.value = ""; // choosing the same image again sends it again
    void sendPhoto(file);
  });
  $("#openlink-form").addEventListener("submit", submitOpenLink);
  $("#person-form").addEventListener("submit", savePerson);
  $("#block-toggle").addEventListener("click", toggleBlock);
  $("#back").addEventListener("click", () => setView("list"));
  $("#keyboard-toggle").addEventListener("click", () => setKeyboardHidden(!state.keyboardHidden));
  $("#jump").addEventListener("click", () => {
    state.stickToBottom = true;
    scrollToBottom();
    $("#jump").hidden = true;
  });
  // Follow new messages while the person is at the bottom; stop when they scroll up to read.
  // (Layout changes such as the reply keyboard appearing don't count as scrolling up.)
  let lastTop = 0;
  $("#scroller").addEventListener("scroll", () => {
    const s = $("#scroller");
    if (s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX) {
      state.stickToBottom = true;
      $("#jump").hidden = true;
    } else if (s.scrollTop < lastTop) {
      state.stickToBottom = false;
    }
    lastTop = s.scrollTop;
  }, { passive: true });
  // The chat area shrinks when the reply keyboard, a banner or a longer draft appears: stay at the
  // newest message if the person was there.
  new ResizeObserver(() => {
    if (state.stickToBottom) scrollToBottom();
  }).observe($("#scroller"));
  $("#messages").addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (link && link.closest(".text") && isBotLink(link.href)) {
      event.preventDefault();
      followUrl(link.href);
    }
  });

  for (const button of document.querySelectorAll(".clock [data-seconds]")) {
    button.addEventListener("click", () =>
      moveClock(Number(button.dataset.seconds), button.dataset.label));
  }
  $("#clock-custom-toggle").addEventListener("click", () =>
    setCustomClockOpen($("#clock-custom").hidden));
  $("#clock-custom").addEventListener("submit", submitCustomClock);

  $("#commands-button").addEventListener("click", () => {
    if ($("#commands-menu").hidden) void openCommands();
    else closeCommands();
  });
  $("#commands-menu").addEventListener("keydown", onCommandsKey);

  document.addEventListener("click", (event) => {
    if (!event.target.closest(".commands-wrap")) closeCommands();
    if (!event.target.closest(".clock")) setCustomClockOpen(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    closeCommands();
    if (!$("#clock-custom").hidden) setCustomClockOpen(false);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) kick();
  });
  window.addEventListener("hashchange", () => {
    const id = personFromHash();
    if (id !== null && id !== state.selectedId) selectPerson(id, { fromHash: true });
  });
  $("#stats").addEventListener("toggle", () => {
    if ($("#stats").open) void loadStats();
  });
  $("#stats-refresh").addEventListener("click", loadStats);
  // The codes to scan: open on a desktop; folded on a phone, where the chat needs the room.
  $("#codes").open = window.matchMedia("(min-width: 761px)").matches;
  $("#codes").addEventListener("toggle", () => {
    if ($("#codes").open) void loadPrintedCodes();
  });
}

async function start() {
  wire();
  await loadBot();
  try {
    await refreshUsers();
  } catch (error) {
    setConnection(false, describe(error));
  }
  $("#person-id").value = suggestId();
  const fromHash = personFromHash();
  if (fromHash !== null) selectPerson(fromHash, { fromHash: true });
  setTimeout(pollBackground, BACKGROUND_POLL_MS);
}

void start();
