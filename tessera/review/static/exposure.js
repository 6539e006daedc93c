// Exposure care: how long each revealed picture stays on screen, reported to the server, which clamps it.
// A revealed interval runs while the picture is on screen and the page is visible; it ends when the picture
// leaves the screen, the tab is hidden or the page is left (pagehide), and is sent with a keepalive fetch
// (not sendBeacon: the call needs its CSRF header). Long looks are also reported every HEARTBEAT ms, so the
// budget warning appears while the reviewer is still looking.
(function () {
  "use strict";
  const panel = document.getElementById("exposure");
  if (!panel) { return; }
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const figures = document.getElementById("exposure-figures");
  const warning = document.getElementById("exposure-warning");
  const dialog = document.getElementById("exposure-break");
  const HEARTBEAT = parseInt(panel.dataset.heartbeat || "5000", 10);
  const open = new Map();   // sha -> performance.now() when its current on-screen interval began
  const onScreen = new Set();
  let breakShown = false;

  function post(url, body, keepalive) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    }).then(function (r) { return r.ok ? r.json() : null; });
  }

  function show(st) {
    if (!st) { return; }
    let text = "today: " + st.reveals + " reveals · " + st.seconds.toFixed(1) + " s revealed of " +
      Math.round(st.budget_seconds) + " s";
    if (st.budget_reveals > 0) { text += " (and " + Math.round(st.budget_reveals) + " reveals)"; }
    text += " · this session: " + st.session_items_seen + " items seen, " + st.session_reveals + " reveals";
    figures.textContent = text;
    panel.dataset.level = st.level;
    if (st.level === "ok") { warning.hidden = true; warning.textContent = ""; }
    else { warning.hidden = false; warning.textContent = "Daily exposure budget crossed (" + Math.round(st.ratio * 100) + " %)"; }
    if (st.level === "break" && !breakShown && dialog && typeof dialog.showModal === "function") {
      breakShown = true;
      post("/api/exposure/break", { action: "shown" }).catch(function () {});
      dialog.showModal();
    }
  }
  function refresh() {
    fetch("/api/exposure/me", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(show).catch(function () {});
  }

  function isRevealed(el) { return el.classList.contains("revealed"); }
  function start(el) {
    const sha = el.dataset.sha;
    if (!open.has(sha) && isRevealed(el) && onScreen.has(sha) && document.visibilityState === "visible") {
      open.set(sha, performance.now());
    }
  }
  function stop(sha, restart) {
    const t0 = open.get(sha);
    if (t0 === undefined) { return; }
    const now = performance.now();
    if (restart) { open.set(sha, now); } else { open.delete(sha); }
    post("/api/exposure", { sha256: sha, seconds: (now - t0) / 1000 }, true).then(show).catch(function () {});
  }
  function stopAll() { Array.from(open.keys()).forEach(function (sha) { stop(sha, false); }); }

  const items = Array.from(document.querySelectorAll(".item[data-sha]"));
  const bySha = new Map(items.map(function (el) { return [el.dataset.sha, el]; }));
  const seen = new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      const sha = e.target.dataset.sha;
      if (e.isIntersecting) { onScreen.add(sha); start(e.target); }
      else { onScreen.delete(sha); stop(sha, false); }
    });
  });
  const revealed = new MutationObserver(function (records) {
    records.forEach(function (r) {
      if (isRevealed(r.target) && !open.has(r.target.dataset.sha)) { start(r.target); refresh(); }
    });
  });
  items.forEach(function (el) {
    seen.observe(el);
    revealed.observe(el, { attributes: true, attributeFilter: ["class"] });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { stopAll(); }
    else { items.forEach(start); }
  });
  window.addEventListener("pagehide", stopAll);
  window.setInterval(function () {
    Array.from(open.keys()).forEach(function (sha) { if (bySha.has(sha)) { stop(sha, true); } });
  }, HEARTBEAT);

  if (dialog) {
    document.getElementById("exposure-break-dismiss").addEventListener("click", function () {
      post("/api/exposure/break", { action: "dismissed" }).then(function (st) {
        dialog.close(); breakShown = false; show(st);
      }).catch(function () { dialog.close(); });
    });
    dialog.addEventListener("cancel", function (ev) { ev.preventDefault(); }); // Esc is not a dismissal
  }
  refresh();
})();
