// The Edge audit viewer. Talks only to this writer's read API. Credentials live in this closure only (no storage,
// no cookies). Every value from a record is rendered with textContent: paths and reasons are attacker-controlled.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const pageSize = 100;
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
  });

  let credential = null;
  let session = null;
  let order = 'desc';
  let cursors = [null];
  let pageIndex = 0;
  let activeFilters = new URLSearchParams();
  // Bumped by every sign-out. An export, an erasure or a proof check answered after it is dropped: the load of records has
  // its own counter (latestLoad), but an erasure's answer wrote the erased subject back into the emptied page and an
  // export saved the signed-out caller's records (a CSV holds the principals the writer decrypted) to this screen.
  let signedIn = 0;

  // ---- API access -------------------------------------------------------------------------------------------

  function authHeaders() {
    const headers = new Headers();
    if (credential.kind === 'bearer') {
      headers.set('Authorization', 'Bearer ' + credential.secret);
    } else {
      headers.set(credential.header, credential.secret);
    }
    return headers;
  }

  function api(path, init = {}) {
    const headers = authHeaders();
    for (const [name, value] of Object.entries(init.headers || {})) {
      headers.set(name, value);
    }
    return fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  }

  // fetch() rejects when the writer is down or the connection breaks: say so instead of leaving 'Loading…' up.
  const unreachable = (error) => 'The writer could not be reached: ' + (error && error.message ? error.message : String(error));

  async function problemText(response) {
    try {
      const problem = await response.json();
      return `${response.status} ${problem.code || ''}: ${problem.detail || problem.title || ''}`.trim();
    } catch {
      return `${response.status} ${response.statusText}`;
    }
  }

  const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  // ---- Sign-in ----------------------------------------------------------------------------------------------

  $('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const kind = form.elements.kind.value;
    const header = form.elements.header.value.trim() || 'X-Api-Key';
    const secret = form.elements.secret.value;
    // fetch() refuses a header it cannot send with the same TypeError as a network failure: tell them apart before.
    if (kind === 'apikey' && !headerName.test(header)) {
      $('sign-in-error').textContent = 'The API key header name is not a valid HTTP header name.';
      return;
    }
    if (/[\0\r\n]|[^\0-\xff]/.test(secret)) {
      $('sign-in-error').textContent = 'The key or token holds a character an HTTP header cannot carry.';
      return;
    }
    credential = { kind, header, secret };
    $('sign-in-error').textContent = '';
    let response;
    try {
      response = await api('/audit/session');
    } catch (error) {
      credential = null;
      $('sign-in-error').textContent = unreachable(error);
      return;
    }
    if (!response.ok) {
      credential = null;
      // Only a 403 means the credentials were accepted: a 503 (the identity provider's keys cannot be fetched) or a
      // 431 (an oversized key) says nothing about them.
      $('sign-in-error').textContent = response.status === 401
        ? 'These credentials were not accepted.'
        : (response.status === 403 ? 'Signed in, but not allowed: ' : 'Sign-in failed: ') + await problemText(response);
      return;
    }
    session = await response.json();
    form.elements.secret.value = '';
    enterApp();
  });

  $('sign-out').addEventListener('click', () => {
    credential = null;
    session = null;
    $('app').hidden = true;
    $('who').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    // Hidden is not gone: the last record's JSON (with its decrypted principal), the filters and the results stayed in
    // the page for the next person at this screen.
    $('who').textContent = '';
    $('records').querySelector('tbody').replaceChildren();
    $('detail').hidden = true;
    for (const id of ['detail-facts', 'detail-proof']) {
      $(id).replaceChildren();
    }
    for (const id of ['detail-json', 'proof-result', 'signature-result', 'status', 'page-info', 'export-status', 'erasure-result']) {
      $(id).textContent = '';
    }
    $('filters').reset();
    $('erasure-form').reset();
    activeFilters = new URLSearchParams();
    resetPaging();
    latestLoad++;
    signedIn++;
    $('secret').focus();
  });

  function enterApp() {
    $('sign-in').hidden = true;
    $('app').hidden = false;
    $('sign-out').hidden = false;
    $('who').hidden = false;
    $('who').textContent = shown(`Signed in as ${session.principal}`
      + (session.readAllTenants ? ' (all tenants)' : ` (tenant ${session.tenant ?? 'none'} only)`));
    const tenant = $('f-tenant');
    // The API confines a tenant auditor to their tenant; the form shows that instead of offering a choice it would refuse.
    tenant.value = session.readAllTenants ? '' : (session.tenant ?? '');
    tenant.readOnly = !session.readAllTenants;
    $('erasure').hidden = !session.erase;
    $('sort-time').textContent = `Time (${timeZone}) ▼`;
    readFilters();
    resetPaging();
    loadPage();
    $('f-from').focus();
  }

  // ---- Filters, paging, sorting -----------------------------------------------------------------------------

  function readFilters() {
    const form = $('filters');
    const params = new URLSearchParams();
    for (const name of ['tenant', 'principal', 'route', 'decision', 'reason']) {
      const value = form.elements[name].value.trim();
      if (value) {
        params.set(name, value);
      }
    }
    for (const name of ['from', 'to']) {
      const value = form.elements[name].value;
      if (value) {
        // datetime-local is in the viewer's time zone; the API takes RFC 3339.
        params.set(name, new Date(value).toISOString());
      }
    }
    activeFilters = params;
  }

  function resetPaging() {
    cursors = [null];
    pageIndex = 0;
  }

  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    readFilters();
    resetPaging();
    loadPage();
  });

  $('clear-filters').addEventListener('click', () => {
    const form = $('filters');
    for (const name of ['from', 'to', 'principal', 'route', 'decision', 'reason']) {
      form.elements[name].value = '';
    }
    if (session.readAllTenants) {
      form.elements.tenant.value = '';
    }
    readFilters();
    resetPaging();
    loadPage();
  });

  $('sort-time').addEventListener('click', () => {
    order = order === 'desc' ? 'asc' : 'desc';
    $('sort-time').closest('th').setAttribute('aria-sort', order === 'desc' ? 'descending' : 'ascending');
    $('sort-time').textContent = `Time (${timeZone}) ${order === 'desc' ? '▼' : '▲'}`;
    resetPaging();
    loadPage();
  });

  $('next-page').addEventListener('click', () => {
    pageIndex++;
    loadPage();
  });

  $('prev-page').addEventListener('click', () => {
    pageIndex = Math.max(0, pageIndex - 1);
    loadPage();
  });

  // Only the latest load may render: an answer that arrives after sign-out (or after newer filters) is dropped, or it
  // put the previous caller's records back into the emptied page.
  let latestLoad = 0;

  async function loadPage() {
    const load = ++latestLoad;
    const params = new URLSearchParams(activeFilters);
    params.set('limit', String(pageSize));
    params.set('order', order);
    if (cursors[pageIndex] !== null) {
      params.set('cursor', cursors[pageIndex]);
    }
    $('status').textContent = 'Loading…';
    let page;
    try {
      const response = await api('/audit/records?' + params);
      if (!response.ok) {
        const refusal = await problemText(response);
        if (load !== latestLoad) {
          return;
        }
        showNoPage('The query was refused: ' + refusal);
        return;
      }
      page = await response.json();
    } catch (error) {
      if (load !== latestLoad) {
        return;
      }
      showNoPage(unreachable(error));
      return;
    }
    if (load !== latestLoad) {
      return;
    }
    cursors[pageIndex + 1] = page.next;
    cursors.length = pageIndex + 2;
    renderRows(page.records);
    $('prev-page').disabled = pageIndex === 0;
    $('next-page').disabled = page.next === null;
    $('page-info').textContent = `Page ${pageIndex + 1}: ${page.records.length} records, ${order === 'desc' ? 'newest' : 'oldest'} first`;
    $('status').textContent = page.records.length === 0 ? 'No records match these filters.' : '';
  }

  // The rows on screen, their caption ("Page 1: 100 records") and an enabled Next page would otherwise pass for the
  // answer to these filters; Next would also ask for a page after one that never came.
  function showNoPage(text) {
    $('status').textContent = text;
    $('records').querySelector('tbody').replaceChildren();
    $('page-info').textContent = '';
    $('next-page').disabled = true;
    $('prev-page').disabled = pageIndex === 0;
  }

  // ---- Rendering --------------------------------------------------------------------------------------------

  function decodeBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function parseLeaf(record) {
    if (record.pruned || !record.leaf) {
      return { bytes: null, json: null };
    }
    const bytes = decodeBase64(record.leaf);
    try {
      return { bytes, json: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) };
    } catch {
      return { bytes, json: null };
    }
  }

  // The writer's readable view of a record: the subject decrypted for this caller, or marked erased. The committed
  // leaf (record.leaf) holds only ciphertext for v2 records; it is what the proof check hashes.
  function readable(record) {
    return record.record ?? parseLeaf(record).json;
  }

  function subjectText(data, record) {
    if (record.pruned) {
      return '(pruned)';
    }
    if (record.principal) {
      return record.principal;
    }
    const subject = data && data.subject;
    if (!subject) {
      return '';
    }
    // 'none', or a subject the writer opened (no ciphertext left): an unauthenticated request has no principal.
    if (subject.protection === 'none' || (subject.protection === 'aes-256-gcm' && subject.ciphertext === undefined)) {
      return subject.principal ?? '';
    }
    return `(${subject.protection})`;
  }

  // Controls, bidi overrides and other invisible format characters in a path, principal or reason come from the
  // request: "/admin/<U+202E>1/sredro" would render as "/admin/orders/1". Shown as their code point, the auditor reads
  // what the record holds.
  const invisible = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
  const codePoint = (c) => c.codePointAt(0).toString(16).padStart(4, '0');
  const shown = (text) => String(text).replace(invisible, (c) => '<U+' + codePoint(c).toUpperCase() + '>');
  // In the record JSON the same characters become JSON escapes, so it still parses to the record; its line breaks are
  // the indentation (JSON.stringify escapes those inside strings).
  const shownJson = (text) => text.replace(invisible, (c) => (c === '\n' ? c
    : Array.from({ length: c.length }, (_, i) => '\\u' + c.charCodeAt(i).toString(16).padStart(4, '0')).join('')));

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text === undefined || text === null ? '' : shown(text);
    if (className) {
      td.className = className;
    }
    row.append(td);
  }

  function renderRows(records) {
    const body = $('records').querySelector('tbody');
    const rows = records.map((record) => {
      const json = readable(record);
      const data = (json && json.data) || {};
      const row = document.createElement('tr');
      const time = document.createElement('td');
      const timeElement = document.createElement('time');
      timeElement.dateTime = record.time;
      timeElement.textContent = timeFormat.format(new Date(record.time));
      time.append(timeElement);
      row.append(time);
      cell(row, record.tenant);
      cell(row, subjectText(data, record));
      cell(row, record.route);
      cell(row, data.method);
      cell(row, data.path, 'path');
      cell(row, data.status);
      cell(row, record.decision);
      cell(row, data.step);
      cell(row, record.reason);
      const action = document.createElement('td');
      const view = document.createElement('button');
      view.type = 'button';
      view.textContent = 'View';
      view.setAttribute('aria-label', `View record ${record.id}`);
      view.addEventListener('click', () => showRecord(record));
      action.append(view);
      row.append(action);
      return row;
    });
    body.replaceChildren(...rows);
  }

  // ---- Record view and proof check (RFC 6962 / RFC 9162 with WebCrypto) -------------------------------------

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

  async function sha256(...parts) {
    const length = parts.reduce((sum, p) => sum + p.length, 0);
    const buffer = new Uint8Array(length);
    let offset = 0;
    for (const part of parts) {
      buffer.set(part, offset);
      offset += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest('SHA-256', buffer));
  }

  const hashLeaf = (leaf) => sha256(Uint8Array.of(0), leaf);
  const hashChildren = (left, right) => sha256(Uint8Array.of(1), left, right);

  // RFC 9162 §2.1.3.2: the root an audit path implies, or null when the path has the wrong shape.
  async function rootFromProof(index, size, leafHash, proof) {
    if (index < 0 || index >= size) {
      return null;
    }
    let fn = index;
    let sn = size - 1;
    let root = leafHash;
    for (const sibling of proof) {
      if (sn === 0 || sibling.length !== 32) {
        return null;
      }
      if (fn % 2 === 1 || fn === sn) {
        root = await hashChildren(sibling, root);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        root = await hashChildren(root, sibling);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? root : null;
  }

  function parseNote(note) {
    const split = note.lastIndexOf('\n\n');
    if (split < 0) {
      return null;
    }
    const text = note.slice(0, split + 1);
    const [origin, size, root] = text.split('\n');
    const signatures = note.slice(split + 2).split('\n').filter((l) => l.startsWith('\u2014 ')).map((line) => {
      const [name, signature] = line.slice(2).split(' ');
      return { name, signature: decodeBase64(signature) };
    });
    return { text, origin, size: Number(size), root: decodeBase64(root), signatures };
  }

  // C2SP signed-note with Ed25519 keys '<name>+<hex id>+<base64(0x01 || key)>'.
  async function verifySignature(note, keysText) {
    const message = new TextEncoder().encode(note.text);
    for (const line of keysText.split('\n').filter((l) => l.trim())) {
      // The base64 key may itself contain '+': split on the first two only.
      const text = line.trim();
      const first = text.indexOf('+');
      const second = text.indexOf('+', first + 1);
      if (first < 0 || second < 0) {
        continue;
      }
      const name = text.slice(0, first);
      const id = text.slice(first + 1, second);
      const key = decodeBase64(text.slice(second + 1));
      if (key.length !== 33 || key[0] !== 1) {
        continue;
      }
      for (const signature of note.signatures.filter((s) => s.name === name && hex(s.signature.slice(0, 4)) === id)) {
        const publicKey = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
        if (await crypto.subtle.verify({ name: 'Ed25519' }, publicKey, signature.signature.slice(4), message)) {
          return name + '+' + id;
        }
      }
    }
    return null;
  }

  function setResult(element, ok, text) {
    element.className = ok ? 'ok' : 'bad';
    element.textContent = text;
  }

  function fact(list, term, value) {
    const dt = document.createElement('dt');
    dt.textContent = term;
    const dd = document.createElement('dd');
    dd.textContent = shown(value);
    list.append(dt, dd);
  }

  async function showRecord(record) {
    const mine = signedIn;
    const live = () => mine === signedIn;
    const detail = $('detail');
    const facts = $('detail-facts');
    const proofList = $('detail-proof');
    const proofResult = $('proof-result');
    const signatureResult = $('signature-result');
    facts.replaceChildren();
    proofList.replaceChildren();
    proofResult.className = '';
    proofResult.textContent = 'Checking the inclusion proof…';
    signatureResult.className = '';
    signatureResult.textContent = '';
    detail.hidden = false;
    detail.focus();

    const { bytes } = parseLeaf(record);
    const json = readable(record);
    $('detail-json').textContent = json ? shownJson(JSON.stringify(json, null, 2)) : '(no record body: pruned)';
    fact(facts, 'Record id', record.id);
    fact(facts, 'Index', String(record.index));
    fact(facts, 'Time', timeFormat.format(new Date(record.time)));
    // A pruned record keeps only its leaf hash: the proof then shows the record is in the log, not what it said.
    let leafHash;
    if (bytes) {
      leafHash = await hashLeaf(bytes);
      if (!live()) {
        return;
      }
      fact(facts, 'Leaf hash (SHA-256 of 0x00 ‖ record)', hex(leafHash));
    } else {
      leafHash = record.leafHash ? decodeBase64(record.leafHash) : null;
      if (!leafHash || leafHash.length !== 32) {
        setResult(proofResult, false, 'This record has neither a body nor a leaf hash to prove.');
        return;
      }
      fact(facts, 'Leaf hash (reported by the writer; the body was pruned)', hex(leafHash));
    }

    try {
      await checkProof(record, bytes, leafHash, facts, proofList, proofResult, signatureResult, live);
    } catch (error) {
      if (live()) {
        setResult(proofResult, false, unreachable(error));
      }
    }
  }

  // live() turns false at sign-out: a proof answered after it would fill the emptied record view again.
  async function checkProof(record, bytes, leafHash, facts, proofList, proofResult, signatureResult, live) {
    const note = parseNote(await (await fetch('/audit/checkpoint', { cache: 'no-store', credentials: 'omit' })).text());
    if (!live()) {
      return;
    }
    if (!note) {
      setResult(proofResult, false, 'The checkpoint could not be read.');
      return;
    }
    fact(facts, 'Signed checkpoint', `${note.origin}, size ${note.size}, root ${hex(note.root)}`);
    if (record.index >= note.size) {
      proofResult.textContent = `Not covered yet: the latest checkpoint has ${note.size} records. Try again in a second.`;
      return;
    }

    const response = await api(`/audit/proof/inclusion?index=${record.index}&size=${note.size}`);
    if (!response.ok) {
      const refusal = await problemText(response);
      if (live()) {
        setResult(proofResult, false, 'The proof was refused: ' + refusal);
      }
      return;
    }
    let proof;
    try {
      proof = (await response.json()).proof.map(decodeBase64);
    } catch {
      if (live()) {
        setResult(proofResult, false, 'MISMATCH: the proof response is not a list of hashes.');
      }
      return;
    }
    if (!live()) {
      return;
    }
    proofList.replaceChildren(...proof.map((hash) => {
      const item = document.createElement('li');
      item.textContent = hex(hash);
      return item;
    }));
    const root = await rootFromProof(record.index, note.size, leafHash, proof);
    if (!live()) {
      return;
    }
    const matches = root !== null && hex(root) === hex(note.root);
    setResult(proofResult, matches, matches
      ? (bytes
        ? `Root matches: the record and its ${proof.length}-hash proof recompute the signed checkpoint's root (size ${note.size}).`
        : `Root matches: the pruned record's leaf hash and its ${proof.length}-hash proof recompute the signed checkpoint's root (size ${note.size}). Its body is gone, so only its place in the log is proven.`)
      : `MISMATCH: the root computed from this record and its proof (${root ? hex(root) : 'no root: wrong proof length'}) is not the signed checkpoint's root.`);

    try {
      const keysText = await (await fetch('/audit/key', { cache: 'no-store', credentials: 'omit' })).text();
      const signer = await verifySignature(note, keysText);
      if (!live()) {
        return;
      }
      setResult(signatureResult, signer !== null, signer
        ? `Checkpoint signature valid (Ed25519, key ${signer} as published by this writer at /audit/key; compare it with the key you were given).`
        : 'Checkpoint signature NOT valid for the key this writer publishes.');
    } catch (error) {
      if (live()) {
        signatureResult.className = '';
        signatureResult.textContent = 'This browser cannot check Ed25519 signatures (' + error.message + '); only the root was checked.';
      }
    }
  }

  $('close-detail').addEventListener('click', () => {
    $('detail').hidden = true;
    $('records').querySelector('tbody button')?.focus();
  });

  // ---- Export -----------------------------------------------------------------------------------------------

  for (const button of document.querySelectorAll('[data-export]')) {
    button.addEventListener('click', () => exportAs(button.dataset.export));
  }

  async function exportAs(format) {
    const mine = signedIn;
    const status = $('export-status');
    // The buttons export "with the current filters": what the form shows, also when it was edited without applying it
    // (before, a tenant typed but not applied exported every tenant's records). The timeline follows, so both agree.
    const shown = activeFilters.toString();
    readFilters();
    if (activeFilters.toString() !== shown) {
      resetPaging();
      loadPage();
    }
    const params = new URLSearchParams(activeFilters);
    params.set('format', format);
    status.textContent = `Exporting ${format}…`;
    let response;
    let blob;
    try {
      response = await api('/audit/export?' + params);
      if (!response.ok) {
        const refusal = await problemText(response);
        if (mine === signedIn) {
          status.textContent = 'The export was refused: ' + refusal;
        }
        return;
      }
      blob = await response.blob();
    } catch (error) {
      if (mine === signedIn) {
        status.textContent = unreachable(error);
      }
      return;
    }
    if (mine !== signedIn) {
      return;
    }
    const disposition = response.headers.get('Content-Disposition') || '';
    const match = /filename="([^"]+)"/.exec(disposition);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = match ? match[1] : `audit.${format === 'bundle' ? 'tar' : format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    status.textContent = format === 'csv'
      ? `Downloaded ${link.download} (CSV cannot be verified; use a bundle for that).`
      : `Downloaded ${link.download}.`;
  }

  // ---- Erasure (shown to holders of audit.erase; the API decides) -------------------------------------------

  $('erasure-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const mine = signedIn;
    const subject = $('erase-subject').value.trim();
    const result = $('erasure-result');
    result.className = '';
    result.textContent = 'Erasing…';
    let answer;
    try {
      const response = await api('/audit/erasure', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ subject }),
      });
      if (!response.ok) {
        const text = await problemText(response);
        if (mine !== signedIn) {
          return;
        }
        if (text.startsWith('503 erasure_pending:')) {
          // Not a refusal: the keys are already deleted and the erasure recorded; only the WAL truncation is left.
          setResult(result, false, 'Erasure applied but not complete: ' + text);
          loadPage();
          return;
        }
        setResult(result, false, 'Erasure refused: ' + text);
        return;
      }
      answer = await response.json();
    } catch (error) {
      // The erasure may or may not have been applied: the audit log's erasure records tell.
      if (mine === signedIn) {
        setResult(result, false, unreachable(error) + '. Reload the records to see whether the erasure was applied.');
      }
      return;
    }
    if (mine !== signedIn) {
      return;
    }
    setResult(result, true, `Erased: ${answer.records} records of ${answer.subject} no longer show the subject.`);
    $('erase-confirm').checked = false;
    loadPage();
  });
})();
