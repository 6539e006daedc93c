// Series: add the media shown (media page) or the selected item (review grid) to a named series.
(function () {
  "use strict";
  const bar = document.getElementById("series-bar");
  if (!bar) { return; }
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const pick = document.getElementById("series-pick");
  const status = document.getElementById("series-status");
  const list = document.getElementById("series-of");

  function call(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      if (!r.ok) { return r.json().then(function (j) { throw new Error(j.detail || r.status); }); }
      return r.json();
    });
  }
  function say(t) { status.textContent = t; }
  function target() {
    if (bar.dataset.sha) { return bar.dataset.sha; }
    const el = document.querySelector(".item.selected[data-sha]");
    return el ? el.dataset.sha : null;
  }
  function loadChoices() {
    if (!pick) { return; }
    call("GET", "/api/series").then(function (rows) {
      while (pick.options.length > 1) { pick.remove(1); }
      rows.forEach(function (s) { const o = document.createElement("option"); o.value = s.id; o.textContent = s.name; pick.add(o); });
    }).catch(function () {});
  }
  function loadMembership() {
    if (!list) { return; }
    call("GET", "/api/series/of/" + bar.dataset.sha).then(function (rows) {
      list.textContent = rows.length ? "" : "none";
      rows.forEach(function (s) {
        const a = document.createElement("a");
        a.href = "/series/" + s.id; a.textContent = s.name; a.className = "series-link";
        list.appendChild(a);
        if (!s.direct) { list.appendChild(document.createTextNode(" (through a copy in its item) ")); }
        else if (pick) {
          const b = document.createElement("button");
          b.type = "button"; b.textContent = "remove"; b.className = "series-remove";
          b.addEventListener("click", function () {
            call("POST", "/api/series/" + s.id + "/members/remove", { sha256: bar.dataset.sha })
              .then(function () { say("removed from " + s.name); loadMembership(); })
              .catch(function (e) { say("not removed: " + e.message); });
          });
          list.appendChild(document.createTextNode(" ")); list.appendChild(b); list.appendChild(document.createTextNode(" "));
        }
      });
    }).catch(function () { list.textContent = "?"; });
  }
  const add = document.getElementById("series-add");
  if (add) {
    add.addEventListener("click", function () {
      const sha = target();
      if (!sha || !pick.value) { say(sha ? "choose a series" : "select an item first"); return; }
      call("POST", "/api/series/" + pick.value + "/members", { sha256: sha }).then(function (res) {
        say((res.added ? "added to " : "already in ") + res.name); loadMembership();
      }).catch(function (e) { say("not added: " + e.message); });
    });
  }
  const create = document.getElementById("series-create");
  if (create) {
    create.addEventListener("click", function () {
      const name = document.getElementById("series-new").value.trim();
      const sha = target();
      if (!name) { say("name the new series"); return; }
      call("POST", "/api/series", { name: name, sha256: sha }).then(function (res) {
        say("series " + res.name + " created" + (sha ? " with this item" : ""));
        document.getElementById("series-new").value = "";
        loadChoices(); loadMembership();
      }).catch(function (e) { say("not created: " + e.message); });
    });
  }
  loadChoices(); loadMembership();
})();
