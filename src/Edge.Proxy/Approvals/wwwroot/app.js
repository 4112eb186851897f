"use strict";

// The approver's credential lives only in this closure: never in storage, cookies or the URL.
(() => {
  const api = "/_edge/approvals";
  let credential = null;
  // Bumped by every sign-out: an answer that arrives for an earlier session is dropped, or a decision answered after the
  // approver signed out put its message, and the approval token, back on the screen of an unattended tab.
  let session = 0;

  const $ = (id) => document.getElementById(id);
  const status = $("status");

  // Controls, bidi overrides and other invisible format characters come from the request (a path is percent-decoded):
  // "/payments/<U+202E>refsnart" would render as "/payments/transfer". Shown as their code point, the approver reads
  // what will be approved.
  function shown(text) {
    return String(text).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
      (c) => "<U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0") + ">");
  }

  function say(text, isError) {
    status.textContent = shown(text);
    status.classList.toggle("error", Boolean(isError));
  }

  // The path in a message is drawn like the list's (see td.path in app.css): in the order of its characters.
  function sayDecided(approval, action, rest, isError) {
    const path = document.createElement("span");
    path.className = "path";
    path.textContent = shown(approval.path);
    status.replaceChildren((action === "approve" ? "Approved " : "Rejected ") + shown(approval.method) + " ", path, rest);
    status.classList.toggle("error", Boolean(isError));
  }

  // As signed in: the form stays on screen, and read at each call an edit made after sign-in (another header name, or
  // one fetch() cannot send) changed how a decision was sent, or failed it as "The edge cannot be reached."
  function headers() {
    if (credential.scheme === "bearer") {
      return { Authorization: "Bearer " + credential.value };
    }
    return { [credential.header]: credential.value };
  }

  async function call(method, path) {
    if (worker()) {
      // A worker that took control after sign-in (clients.claim() from a backend's page in another tab) would receive
      // this request with the credential: the page signs out instead, and its callers see another session.
      signOut();
      say(workerText, true);
      return { ok: false, status: 0, body: null };
    }
    const response = await fetch(api + path, { method, headers: headers(), cache: "no-store", credentials: "omit" });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return { ok: response.ok, status: response.status, body };
  }

  function problemText(result) {
    const detail = result.body && (result.body.detail || result.body.title);
    return detail ? detail + " (" + result.status + ")" : "The edge answered " + result.status + ".";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : shown(text);
    if (className) {
      td.className = className;
    }
    row.appendChild(td);
    return td;
  }

  function render(approvals) {
    const body = $("approvals").querySelector("tbody");
    body.replaceChildren();
    for (const approval of approvals) {
      const row = document.createElement("tr");
      row.dataset.id = approval.id;
      cell(row, new Date(approval.createdAt).toLocaleString());
      cell(row, approval.tenant);
      cell(row, approval.requester, "requester");
      cell(row, approval.route);
      cell(row, approval.method, "method");
      cell(row, approval.path + (approval.query || ""), "path");
      cell(row, approval.bodySha256, "hash");
      cell(row, new Date(approval.expiresAt).toLocaleString());
      const actions = cell(row, "");
      const approve = document.createElement("button");
      approve.type = "button";
      approve.className = "approve";
      approve.textContent = "Approve";
      approve.setAttribute("aria-label", shown("Approve " + approval.method + " " + approval.path + " by " + approval.requester));
      approve.addEventListener("click", () => decide(approval, "approve"));
      const reject = document.createElement("button");
      reject.type = "button";
      reject.className = "reject";
      reject.textContent = "Reject";
      reject.setAttribute("aria-label", shown("Reject " + approval.method + " " + approval.path + " by " + approval.requester));
      reject.addEventListener("click", () => decide(approval, "reject"));
      actions.append(approve, reject);
      body.appendChild(row);
    }
    $("approvals").hidden = false;
  }

  async function load() {
    const mine = session;
    const result = await call("GET", "?status=pending");
    if (credential === null || session !== mine) {
      // Signed out while the list was loading.
      return;
    }
    if (!result.ok) {
      $("approvals").hidden = true;
      say(problemText(result), true);
      return;
    }
    const approvals = result.body.approvals || [];
    render(approvals);
    $("sign-out").hidden = false;
    say(approvals.length === 1 ? "1 request is waiting." : approvals.length + " requests are waiting.");
  }

  async function decide(approval, action) {
    const done = action === "approve" ? "approved" : "rejected";
    const mine = session;
    let result;
    try {
      result = await call("POST", "/" + encodeURIComponent(approval.id) + "/" + action);
    } catch {
      if (session !== mine) {
        return;
      }
      // The decision may or may not have reached the edge; only the list, loaded again, can tell.
      say("The edge cannot be reached. Load the list again to see whether the request was " + done + ".", true);
      return;
    }
    if (session !== mine) {
      return;
    }
    if (!result.ok) {
      say(problemText(result), true);
      return;
    }
    if (action === "approve") {
      $("token").textContent = result.body.token;
      $("token-expires").textContent = new Date(result.body.expiresAt).toLocaleString();
      $("token-box").hidden = false;
    } else {
      $("token-box").hidden = true;
    }
    try {
      await load();
    } catch {
      if (session === mine) {
        sayDecided(approval, action, ", but the list cannot be reloaded: the edge cannot be reached.", true);
      }
      return;
    }
    if (session === mine) {
      sayDecided(approval, action, ".");
    }
  }

  // Without this the credential, and the last token, stayed usable in an unattended tab until it was closed or reloaded.
  function signOut() {
    credential = null;
    session++;
    $("approvals").querySelector("tbody").replaceChildren();
    $("approvals").hidden = true;
    $("token").textContent = "";
    $("token-expires").textContent = "";
    $("token-box").hidden = true;
    $("sign-out").hidden = true;
    say("Signed out. Enter your credential to see the requests waiting for you.");
    $("credential").focus();
  }

  $("sign-out").addEventListener("click", signOut);

  // fetch() refuses a header it cannot send with the same TypeError as a network failure: tell them apart before.
  const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  // The page shares its origin with every backend, so a service worker one of them registered with a scope covering this
  // path ("/", as a progressive web app at the root does) received every request of the page, the credential included,
  // and could keep the list and the token in its caches. A page such a worker controls takes no credential, and one it
  // takes control of after sign-in (clients.claim()) signs out.
  const worker = () => Boolean(navigator.serviceWorker && navigator.serviceWorker.controller);
  const workerText = "A service worker of this origin, installed by an application behind the edge, sees every request of this page: "
    + "the page takes no credential while it is there. Remove that worker (the browser's site settings), or ask the operator to keep it off this path.";
  if (worker()) {
    say(workerText, true);
  }
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (worker()) {
        signOut();
        say(workerText, true);
      }
    });
  }

  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    if (worker()) {
      $("credential").value = "";
      say(workerText, true);
      return;
    }
    const typed = $("credential").value.trim();
    if ($("scheme").value === "header" && !headerName.test($("key-header").value.trim())) {
      say("The API key header name is not a valid HTTP header name.", true);
      return;
    }
    if (/[\0\r\n]|[^\0-\xff]/.test(typed)) {
      say("The credential holds a character an HTTP header cannot carry.", true);
      return;
    }
    credential = typed ? { scheme: $("scheme").value, header: $("key-header").value.trim(), value: typed } : null;
    $("credential").value = "";
    if (credential) {
      load().catch(() => say("The edge cannot be reached.", true));
    }
  });
})();
