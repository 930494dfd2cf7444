// The xling page: four small forms over the server's JSON API. No framework and no build step; every
// value from the server is written with textContent, never parsed as HTML.
"use strict";

const KEY_STORAGE = "xling-api-key";
let languageNames = new Map(); // code -> name, from GET /languages

function $(id) {
  return document.getElementById(id);
}

// The message an API error carries: LibreTranslate's {"error"}, FastAPI's {"detail"} (a string or a list of
// validation errors naming the field) or {"message"}.
function errorMessage(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.error;
    if (body.error && typeof body.error.message === "string") return body.error.message;
    if (typeof body.message === "string") return body.message;
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail
        .map((d) => {
          const where = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
          return where ? `${where}: ${d.msg}` : String(d.msg || JSON.stringify(d));
        })
        .join("; ");
    }
  }
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 300);
  return `the server answered ${status}`;
}

class ApiError extends Error {}

// POST (or GET when body is undefined) a JSON request; return the parsed answer or throw an ApiError whose
// message is fit to show.
async function api(path, body) {
  const headers = { Accept: "application/json" };
  const key = $("api-key").value.trim();
  // a header value is Latin-1 at most: fetch would throw, read below as an unreachable server
  if (key && !/^[\x20-\x7e\x80-\xff]+$/.test(key)) {
    throw new ApiError("the API key holds characters an HTTP header cannot carry (check what was pasted)");
  }
  if (key) headers.Authorization = `Bearer ${key}`;
  const init = { method: body === undefined ? "GET" : "POST", headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError("cannot reach the server (is it running?)");
  }
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (err) {
    // not JSON: keep the text for the message
  }
  if (!response.ok) {
    const prefix = response.status === 401 || response.status === 403 ? "API key refused: " : "";
    throw new ApiError(`${prefix}${errorMessage(response.status, parsed)} (HTTP ${response.status})`);
  }
  if (parsed === null || typeof parsed !== "object") {
    throw new ApiError("the server's answer was not JSON");
  }
  return parsed;
}

function showError(id, err) {
  const box = $(id);
  box.textContent = err instanceof ApiError ? err.message : `something went wrong: ${err}`;
  box.hidden = false;
}

function clearError(id) {
  const box = $(id);
  box.textContent = "";
  box.hidden = true;
}

// English names for codes the server does not name (search hits carry ISO 639-3 codes such as `fra`).
const displayNames = typeof Intl === "object" && Intl.DisplayNames
  ? new Intl.DisplayNames(["en"], { type: "language", fallback: "none" })
  : null;

function languageName(code) {
  if (languageNames.has(code)) return languageNames.get(code);
  if (code === "und" || !displayNames) return undefined;
  try {
    return displayNames.of(code.replace("_", "-")); // xling labels: cmn_Hans -> cmn-Hans
  } catch (err) {
    return undefined; // not a BCP 47 tag
  }
}

function languageLabel(code) {
  if (!code) return "?";
  const name = languageName(code);
  return name && name !== code ? `${name} (${code})` : code;
}

function formatScore(score) {
  return typeof score === "number" && Number.isFinite(score) ? score.toFixed(3) : "";
}

// Run one form's request with its button disabled; a later submit of the same form wins over an earlier
// answer that arrives late.
function wire(formId, buttonId, errorId, handler) {
  let generation = 0;
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const mine = ++generation;
    const button = $(buttonId);
    button.disabled = true;
    clearError(errorId);
    try {
      await handler(() => mine === generation);
    } catch (err) {
      if (mine === generation) showError(errorId, err);
    } finally {
      if (mine === generation) button.disabled = false;
    }
  });
}

// --- search -------------------------------------------------------------------------------------------

wire("search-form", "search-button", "search-error", async (current) => {
  const query = $("search-query").value.trim();
  if (!query) throw new ApiError("type something to search for");
  const request = { query, k: Math.max(1, Math.min(50, parseInt($("search-k").value, 10) || 5)) };
  const lang = $("search-lang").value.trim();
  if (lang) request.lang = lang;
  const list = $("search-results");
  list.replaceChildren(); // an error must not stand above the previous query's hits
  const answer = await api("v1/search", request);
  if (!current()) return;
  const hits = Array.isArray(answer.hits) ? answer.hits : [];
  if (!hits.length) {
    const empty = document.createElement("li");
    empty.className = "empty";
    empty.textContent = "no results";
    list.append(empty);
    return;
  }
  for (const hit of hits) {
    const item = document.createElement("li");
    item.className = "hit";
    item.dataset.language = hit.language || "";
    const badge = document.createElement("span");
    badge.className = "lang";
    badge.textContent = languageLabel(hit.language);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = hit.text ?? "";
    if (hit.language) text.lang = hit.language;
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = formatScore(hit.score);
    score.title = "cosine similarity";
    item.append(badge, text, score);
    list.append(item);
  }
});

// --- translate ----------------------------------------------------------------------------------------

wire("translate-form", "translate-button", "translate-error", async (current) => {
  const q = $("translate-input").value.trim();
  if (!q) throw new ApiError("type a sentence to translate");
  const target = $("translate-target").value;
  if (!target) throw new ApiError("the server lists no target languages");
  $("translate-output").textContent = "";
  $("translate-detected").textContent = "";
  const answer = await api("translate", { q, source: "auto", target, format: "text" });
  if (!current()) return;
  const translated = Array.isArray(answer.translatedText) ? answer.translatedText[0] : answer.translatedText;
  if (typeof translated !== "string") throw new ApiError("the answer has no translatedText");
  const output = $("translate-output");
  output.textContent = translated;
  output.lang = target;
  let detected = answer.detectedLanguage;
  if (Array.isArray(detected)) detected = detected[0];
  if (detected && detected.language) {
    const confidence = typeof detected.confidence === "number" ? `, ${Math.round(detected.confidence)}%` : "";
    $("translate-detected").textContent = `detected: ${languageLabel(detected.language)}${confidence}`;
  }
});

// --- sentiment ----------------------------------------------------------------------------------------

// One prediction from /v1/classify's answer, whatever list it comes in.
function firstPrediction(answer) {
  const lists = [answer.predictions, answer.results, answer.labels, answer.data, answer];
  for (const list of lists) {
    if (Array.isArray(list) && list.length) return list[0];
  }
  return answer;
}

wire("sentiment-form", "sentiment-button", "sentiment-error", async (current) => {
  const text = $("sentiment-input").value.trim();
  if (!text) throw new ApiError("type a text to classify");
  $("sentiment-output").textContent = "";
  const answer = await api("v1/classify", { inputs: [text] });
  if (!current()) return;
  let prediction = firstPrediction(answer);
  if (Array.isArray(prediction)) prediction = prediction[0]; // TEI style: a list of {label, score} per text
  const label = prediction && (prediction.label ?? prediction.prediction);
  if (label === undefined) throw new ApiError("the answer has no label");
  const score = prediction.score ?? prediction.probability ?? prediction.confidence;
  const output = $("sentiment-output");
  output.dataset.label = String(label);
  output.textContent = score === undefined ? String(label) : `${label} (${formatScore(score)})`;
  const language = prediction.language || answer.language;
  if (language) output.textContent += ` · ${languageLabel(language)}`;
});

// --- support chat -------------------------------------------------------------------------------------

function chatLine(who, text, language) {
  const item = document.createElement("li");
  item.className = who;
  const body = document.createElement("p");
  body.textContent = text;
  if (language) body.lang = language;
  item.append(body);
  $("chat-log").append(item);
  item.scrollIntoView({ block: "nearest" });
  return item;
}

// A note under a bot answer the asker may not read as written: a machine translation (with the FAQ's own
// answer beside it, as the README promises, for a reader to check) or the FAQ's answer in another language.
function chatSourceNote(reply, answer) {
  let label = "";
  if (answer.answer_source === "translated") label = "machine translation";
  else if (answer.in_asker_language === false) label = "not in your language";
  if (!label) return;
  const note = document.createElement("small");
  note.className = "meta source";
  note.textContent = label;
  reply.append(note);
  if (typeof answer.original_answer === "string" && answer.original_answer) {
    const original = document.createElement("small");
    original.className = "meta original";
    original.textContent = `original: ${answer.original_answer}`;
    reply.append(original);
  }
}

wire("chat-form", "chat-button", "chat-error", async () => {
  const question = $("chat-input").value.trim();
  if (!question) throw new ApiError("type a question");
  chatLine("user", question);
  $("chat-input").value = "";
  const answer = await api("v1/answer", { question });
  const text = answer.answer ?? answer.text;
  const answered = typeof text === "string" && text !== "";
  // only the answer's own language labels the reply: the built-in no-answer text is English whatever the
  // asker wrote in, and the detected language says nothing about the text shown
  const language = answered ? answer.answer_language || answer.language || "" : "";
  const reply = chatLine(
    "bot",
    answered ? text : "I have no answer to that; a person from support will reply.",
    language,
  );
  reply.dataset.language = language;
  if (answer.handover || !answered) reply.classList.add("handover");
  if (answered) chatSourceNote(reply, answer);
  const details = [];
  if (language) details.push(languageLabel(language));
  const matched = answer.matched_question ?? answer.question_matched;
  if (matched) details.push(`matched: “${matched}”`);
  if (typeof answer.score === "number") details.push(`score ${formatScore(answer.score)}`);
  if (answer.handover) details.push("handed over to a person");
  if (details.length) {
    const meta = document.createElement("small");
    meta.className = "meta";
    meta.textContent = details.join(" · ");
    reply.append(meta);
  }
});

// --- start-up -----------------------------------------------------------------------------------------

function fillSelect(select, languages, keepFirst, preferred) {
  const first = keepFirst ? select.firstElementChild : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const { code, name } of languages) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name && name !== code ? `${name} (${code})` : code;
    select.append(option);
  }
  const wanted = preferred.find((code) => languages.some((l) => l.code === code));
  if (wanted) select.value = wanted;
}

async function loadLanguages() {
  try {
    const answer = await api("languages");
    const list = Array.isArray(answer) ? answer : [];
    const languages = list.filter((l) => l && typeof l.code === "string");
    languageNames = new Map(languages.map((l) => [l.code, l.name || l.code]));
    // The targets any source can reach (LibreTranslate lists them per source language).
    const targets = new Set();
    for (const l of languages) for (const t of Array.isArray(l.targets) ? l.targets : [l.code]) targets.add(t);
    const targetList = [...targets].sort().map((code) => ({ code, name: languageNames.get(code) || code }));
    fillSelect($("translate-target"), targetList, false, ["eng", "en"]);
    // the search filters on languages as the index keeps them, without a script or region (zh, not zh-Hant)
    const searchCodes = [...new Set(languages.map((l) => l.code.split("-")[0]))];
    fillSelect($("language-codes"), searchCodes.map((code) => ({ code, name: languageNames.get(code) || code })), false, []);
  } catch (err) {
    showError("translate-error", err);
  }
}

async function checkHealth() {
  const status = $("server-status");
  try {
    const health = await api("health");
    const failed = Array.isArray(health.failed) ? health.failed : [];
    status.textContent = failed.length ? `not loaded on the server: ${failed.join(", ")}` : "";
    status.className = failed.length ? "status bad" : "status ok";
  } catch (err) {
    status.textContent = err instanceof ApiError ? `server: ${err.message}` : String(err);
    status.className = "status bad";
  }
}

function start() {
  const key = $("api-key");
  try {
    key.value = localStorage.getItem(KEY_STORAGE) || "";
    key.addEventListener("change", () => localStorage.setItem(KEY_STORAGE, key.value.trim()));
  } catch (err) {
    // storage refused (private mode): the key lasts for this page only
  }
  key.addEventListener("change", loadLanguages);
  checkHealth();
  loadLanguages().then(() => document.body.classList.add("ready"));
}

start();
