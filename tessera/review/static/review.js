// Review grid: selection, keyboard categorisation (0-4), known benign (b), cluster selection (c),
// audited reveal.
// No inline scripts (the page's CSP forbids them); every POST carries the session's CSRF token.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const canWrite = document.body.dataset.canWrite === "1";
  const items = Array.from(document.querySelectorAll(".item[data-sha]"));
  const status = document.getElementById("status");
  let sel = items.length ? 0 : -1;
  let clusterMode = false;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      if (!r.ok) { return r.json().then(function (j) { throw new Error(j.detail || r.status); }); }
      return r.json();
    });
  }
  function say(text) { if (status) { status.textContent = text; } }

  function paint() {
    items.forEach(function (el, i) {
      el.classList.toggle("selected", i === sel);
      el.classList.toggle("in-cluster", clusterMode && sel >= 0 && el.dataset.cluster === items[sel].dataset.cluster);
    });
    if (sel >= 0 && items.length > 1) { items[sel].focus({ preventScroll: false }); }
  }
  function select(i) { sel = Math.max(0, Math.min(items.length - 1, i)); clusterMode = false; paint(); }

  function decide(category) {
    if (sel < 0 || !canWrite) { return; }
    const el = items[sel];
    post("/api/decide", { sha256: el.dataset.sha, category: category, cluster: clusterMode }).then(function (res) {
      const changed = new Set(res.changed);
      items.forEach(function (it) {
        if (changed.has(it.dataset.sha)) {
          const badge = it.querySelector(".cat-badge");
          badge.textContent = "cat " + res.category;
          badge.dataset.category = String(res.category);
          it.classList.add("decided");
        }
      });
      say("category " + res.category + " set on " + res.changed.length + " item(s)");
      refreshHistory();
      clusterMode = false;
      const next = items.findIndex(function (it, i) { return i > sel && !it.classList.contains("decided"); });
      if (next >= 0) { sel = next; }
      paint();
    }).catch(function (e) { say("not saved: " + e.message); });
  }

  // Known benign (a sticker, an app icon): the item joins the case's known-benign set and leaves the queue.
  function benign() {
    if (sel < 0 || !canWrite) { return; }
    const el = items[sel];
    post("/api/benign", { sha256: el.dataset.sha }).then(function () {
      const badge = el.querySelector(".cat-badge");
      badge.textContent = "benign";
      el.classList.add("decided");
      say("marked known benign: out of the queue and the counts");
      const next = items.findIndex(function (it, i) { return i > sel && !it.classList.contains("decided"); });
      if (next >= 0) { sel = next; }
      paint();
    }).catch(function (e) { say("not saved: " + e.message); });
  }

  // The media page lists the item's decisions: fetch the page again and swap in the new table, so the
  // decision just made appears without a reload (which would lose the message and the selection).
  function refreshHistory() {
    const old = document.getElementById("history");
    if (!old) { return; }
    fetch(window.location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("history");
        if (fresh) { old.replaceWith(fresh); }
      }).catch(function () { say("saved; reload the page to see the decision history"); });
  }

  // One reveal per item and page: a second click or Enter on the button while the first is on its way,
  // or after it, does nothing (each reveal is an audited exposure, so none may happen by accident).
  function reveal(el) {
    if (el.classList.contains("revealed") || el.dataset.revealing === "1") { return; }
    el.dataset.revealing = "1";
    const button = el.querySelector("button.reveal");
    if (button) { button.disabled = true; }
    post("/api/reveal", { sha256: el.dataset.sha }).then(function (res) {
      el.querySelector(".thumb img").src = res.url;
      el.classList.add("revealed");
      if (button) { button.textContent = "Revealed"; }
      say("revealed (recorded in the audit log)");
    }).catch(function (e) {
      if (button) { button.disabled = false; }
      say("not revealed: " + e.message);
    }).finally(function () { delete el.dataset.revealing; });
  }

  items.forEach(function (el, i) {
    el.addEventListener("click", function (ev) {
      if (ev.target.closest(".reveal")) {
        // Reveal acts on its own item: select it first, so the next key (a category) applies to the
        // picture just looked at, and focus leaves the button (Enter then opens, never reveals again).
        ev.preventDefault();
        if (items.length > 1) { select(i); }
        reveal(el);
        return;
      }
      if (ev.target.closest("a") && sel !== i && items.length > 1) { ev.preventDefault(); }
      if (items.length > 1) { select(i); }
    });
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.target.closest("input, select, textarea") || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    // Enter or space on a focused button or link is that control's own click; not also a shortcut.
    if ((ev.key === "Enter" || ev.key === " ") && ev.target.closest("button, a")) { return; }
    const k = ev.key;
    if (/^[0-4]$/.test(k)) { ev.preventDefault(); decide(parseInt(k, 10)); }
    else if (k === "b") { ev.preventDefault(); benign(); }
    else if (k === "c") { clusterMode = !clusterMode; paint();
      say(clusterMode ? "cluster selected: the next decision applies to every member" : ""); }
    else if (k === "Escape") { clusterMode = false; paint(); say(""); }
    else if (k === "ArrowRight" || k === "j") { ev.preventDefault(); select(sel + 1); }
    else if (k === "ArrowLeft" || k === "k") { ev.preventDefault(); select(sel - 1); }
    else if (k === "Enter" && sel >= 0 && items.length > 1) { window.location.href = "/media/" + items[sel].dataset.sha; }
  });
  paint();
})();
