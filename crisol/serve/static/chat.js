// The chat page of `crisol serve`: a conversation with one of the served models, streamed through
// the server's own OpenAI API (GET /v1/models, POST /v1/chat/completions). Plain JS, no build step
// and no libraries, because the machine serving it may be offline.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  model: $("model"), temperature: $("temperature"), maxTokens: $("max-tokens"), seed: $("seed"),
  apiKey: $("api-key"), system: $("system"), settings: $("settings"), conversation: $("conversation"),
  error: $("error"), composer: $("composer"), message: $("message"), send: $("send"), stop: $("stop"),
  clear: $("clear"),
};
const KEY_STORAGE = "crisol.apiKey";

// What the server is sent next time: {role, content, element} per turn. A turn dropped to fit the
// model's context leaves this list but stays on screen, greyed, so the reader knows what was lost.
let dialogue = [];   // not "history": that name is the browser's (window.history)
let running = null;   // the AbortController of the request in flight, if any

class ApiError extends Error {
  constructor({message, code}) {
    super(message);
    this.code = code;
  }
}

// ---- talking to the server -------------------------------------------------------------------

function headers() {
  const result = {"Content-Type": "application/json"};
  const key = ui.apiKey.value.trim();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

// The server answers errors as {"error": {"message", "code", ...}}; anything else (a proxy's page,
// an empty body) still becomes a message a person can read.
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (_) { /* not JSON: fall back to the status line */ }
  const error = (body && body.error) || {};
  return {message: error.message || `HTTP ${response.status} ${response.statusText}`, code: error.code || null};
}

async function listModels() {
  const response = await fetch("/v1/models", {headers: headers()});
  if (!response.ok) throw new ApiError(await errorOf(response));
  const cards = (await response.json()).data;
  // Chat models first (sort is stable: otherwise the server's order), so the default is one that
  // learned to take turns rather than a base model.
  return cards.sort((a, b) => Number(b.chat) - Number(a.chat));
}

function messagesToSend(turns) {
  const messages = turns.map(({role, content}) => ({role, content}));
  const system = ui.system.value.trim();
  return system ? [{role: "system", content: system}, ...messages] : messages;
}

// A number field's value, or null when it is blank: the option is then left to the server.
function numberIn(input) {
  return Number.isNaN(input.valueAsNumber) ? null : input.valueAsNumber;
}

function requestBody(model, turns) {
  const body = {model, messages: messagesToSend(turns), stream: true};
  const [temperature, maxTokens, seed] = [ui.temperature, ui.maxTokens, ui.seed].map(numberIn);
  if (temperature !== null) body.temperature = temperature;
  if (maxTokens !== null) body.max_tokens = Math.round(maxTokens);   // blank: the rest of the context
  if (seed !== null) body.seed = Math.round(seed);                    // blank: a fresh draw every time
  return body;
}

function postChat(model, turns, signal) {
  return fetch("/v1/chat/completions",
    {method: "POST", headers: headers(), body: JSON.stringify(requestBody(model, turns)), signal});
}

// A conversation longer than the model's context is answered 400 context_length_exceeded: leave
// out the oldest exchange (the system prompt stays) and ask again, until only the newest message is
// left. The dialogue loses those turns only once a shorter one is accepted: a request that fails
// anyway (max tokens alone too large) leaves the conversation as it was.
async function postUntilItFits(model, signal) {
  let from = 0;
  for (;;) {
    const response = await postChat(model, dialogue.slice(from), signal);
    if (response.ok) {
      dropOldest(from, model);
      return response;
    }
    const error = await errorOf(response);
    const next = error.code === "context_length_exceeded" ? nextQuestion(from) : -1;
    if (next < 0) throw new ApiError(error);
    from = next;
  }
}

// Where the user's next message after dialogue[from] is, or -1 when there is none.
function nextQuestion(from) {
  return dialogue.findIndex((turn, i) => i > from && turn.role === "user");
}

function dropOldest(count, model) {
  if (!count) return;
  for (const turn of dialogue.splice(0, count)) {
    turn.element.classList.add("dropped");
    turn.element.title = "No longer sent: over the model's context";
  }
  addNote(`${count} older message${count > 1 ? "s" : ""} dropped to fit ${model}'s context.`);
}

// The `data: {...}` payloads of a server-sent event stream, parsed, until `data: [DONE]`.
async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    const lines = buffer.split("\n");
    buffer = lines.pop();   // a line cut between two reads waits for its end
    for (const line of lines) {
      if (!line.startsWith("data:")) continue;   // the blank line between events
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

async function streamInto(response, turn) {
  for await (const chunk of events(response)) {
    if (chunk.error) throw new ApiError(chunk.error);   // a fault of the server mid-stream
    if (chunk.model) setSpeaker(turn, chunk.model);
    const choice = chunk.choices && chunk.choices[0];
    if (choice && choice.delta && choice.delta.content) appendText(turn, choice.delta.content);
  }
}

// ---- the conversation on screen --------------------------------------------------------------

function addTurn(role, speaker, text) {
  const element = document.createElement("article");
  element.className = `turn ${role}`;
  const label = document.createElement("div");
  label.className = "speaker";
  label.textContent = speaker;
  const content = document.createElement("div");
  content.className = "content";
  content.textContent = text;
  element.append(label, content);
  ui.conversation.append(element);
  scrollToEnd();
  return {role, content: text, element};
}

function setSpeaker(turn, name) {
  turn.element.querySelector(".speaker").textContent = name;
}

function appendText(turn, piece) {
  turn.content += piece;
  turn.element.querySelector(".content").append(piece);
  scrollToEnd();
}

function addNote(text) {
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = text;
  ui.conversation.append(note);
  scrollToEnd();
}

function scrollToEnd() {
  ui.conversation.scrollTop = ui.conversation.scrollHeight;
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

function setBusy(busy) {
  ui.send.disabled = busy;
  ui.stop.disabled = !busy;
}

// ---- actions ---------------------------------------------------------------------------------

async function refreshModels() {
  try {
    const cards = await listModels();
    const previous = ui.model.value;
    ui.model.replaceChildren(...cards.map((card) => {
      const option = new Option(card.chat ? card.id : `${card.id} (not chat-tuned)`, card.id);
      option.title = `context: ${card.max_model_len} tokens`;
      return option;
    }));
    if (cards.some((card) => card.id === previous)) ui.model.value = previous;   // else the first
    if (cards.length) clearError(); else showError("The server lists no models.");
  } catch (error) {
    showError(`Could not list the models: ${error.message}`);
  }
}

function discard(turn) {
  dialogue = dialogue.filter((other) => other !== turn);
  turn.element.remove();
}

// A request that failed before any reply came takes its message back to the box, so fixing the
// cause (a key, a shorter text) and sending again is one keystroke, and the dialogue stays clean.
function withdraw(question) {
  discard(question);
  if (!ui.message.value) ui.message.value = question.content;
}

async function send() {
  const text = ui.message.value;
  if (!text.trim() || running) return;
  if (!ui.model.value) await refreshModels();
  const model = ui.model.value;
  if (!model) return;   // refreshModels has shown why
  clearError();
  ui.message.value = "";
  const question = addTurn("user", "You", text);
  dialogue.push(question);
  running = new AbortController();
  setBusy(true);
  let answer = null;
  try {
    const response = await postUntilItFits(model, running.signal);
    answer = addTurn("assistant", model, "");
    dialogue.push(answer);
    await streamInto(response, answer);
  } catch (error) {
    if (error.name === "AbortError") {
      if (answer) answer.element.classList.add("stopped");   // what came so far stays in the dialogue
    } else {
      if (!answer || !answer.content) {   // nothing came back: as if it had not been sent
        if (answer) discard(answer);
        withdraw(question);
      }
      showError(error.message);
    }
  } finally {
    running = null;
    setBusy(false);
  }
}

function stop() {
  if (running) running.abort();   // the server sees the connection close and frees the slot
}

function clearConversation() {
  stop();
  dialogue = [];
  ui.conversation.replaceChildren();
  clearError();
  ui.message.focus();
}

function saveApiKey() {
  const key = ui.apiKey.value.trim();
  if (key) localStorage.setItem(KEY_STORAGE, key); else localStorage.removeItem(KEY_STORAGE);
  refreshModels();   // the list may have failed for want of this key
}

// ---- wiring ----------------------------------------------------------------------------------

ui.message.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter is a new line; Enter that confirms an input method's character is neither.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") stop();
});
ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
ui.settings.addEventListener("submit", (event) => event.preventDefault());
ui.stop.addEventListener("click", stop);
ui.clear.addEventListener("click", clearConversation);
ui.apiKey.addEventListener("change", saveApiKey);

ui.apiKey.value = localStorage.getItem(KEY_STORAGE) || "";
refreshModels();
