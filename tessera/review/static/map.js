// Map of capture places: the bundled Natural Earth basemap (/static/basemap.geojson) and the places from
// /api/places, drawn as SVG in an equirectangular projection (x = lon + 180, y = 90 - lat). Every request
// goes to this origin; pictures are listed with their blurred thumbnails only.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const box = document.getElementById("map");
  const list = document.getElementById("place-list");
  const info = document.getElementById("map-info");
  const svg = document.createElementNS(NS, "svg");
  let view = { x: 0, y: 0, w: 360, h: 180 };
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  box.appendChild(svg);
  const land = document.createElementNS(NS, "g");
  const dots = document.createElementNS(NS, "g");
  svg.appendChild(land);
  svg.appendChild(dots);

  function project(lon, lat) { return [lon + 180, 90 - lat]; }
  function el(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    parent.appendChild(e);
    return e;
  }
  function setView() {
    svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
    const r = Math.max(0.08, 1.6 * view.w / 360);
    dots.querySelectorAll("circle").forEach(function (c) { c.setAttribute("r", r); });
  }
  function html(tag, text, parent, cls) {
    const e = document.createElement(tag);
    if (text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    parent.appendChild(e);
    return e;
  }

  function drawBasemap(geo) {
    for (let lon = -180; lon <= 180; lon += 30) {
      el("path", { d: "M" + (lon + 180) + " 0 V180", class: "graticule" }, land);
    }
    for (let lat = -60; lat <= 60; lat += 30) {
      el("path", { d: "M0 " + (90 - lat) + " H360", class: "graticule" }, land);
    }
    geo.features.forEach(function (f) {
      let d = "";
      f.geometry.coordinates.forEach(function (poly) {
        poly.forEach(function (ring) {
          ring.forEach(function (pt, i) {
            const p = project(pt[0], pt[1]);
            d += (i ? "L" : "M") + p[0].toFixed(2) + " " + p[1].toFixed(2);
          });
          d += "Z";
        });
      });
      const path = el("path", { d: d, class: "land" }, land);
      html("title", f.properties.name, path);
    });
  }

  function showPlace(circle, pt) {
    dots.querySelectorAll(".selected").forEach(function (c) { c.classList.remove("selected"); });
    circle.classList.add("selected");
    const q = new URLSearchParams({ lat: String(pt.lat), lon: String(pt.lon) });
    fetch("/api/places/at?" + q.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        list.textContent = "";
        html("h2", pt.lat + ", " + pt.lon, list);
        html("p", res.pictures.length + " picture(s) taken here", list, "muted");
        res.pictures.forEach(function (p) {
          const row = html("div", null, list, "pic");
          row.dataset.sha = p.sha256;
          const a = html("a", null, row, "thumb");
          a.href = p.href;
          const img = html("img", null, a);
          img.src = p.thumb;
          img.alt = "blurred thumbnail";
          img.draggable = false;
          const meta = html("div", null, row);
          html("code", p.sha256.slice(0, 16), meta);
          html("div", "taken " + (p.exif_time || "(no EXIF time)") + " · " +
            [p.make, p.model].filter(Boolean).join(" "), meta, "muted");
          const files = html("ul", null, meta);
          p.files.forEach(function (f) { html("li", f.device + " " + f.locator, files); });
          if (p.files_total > p.files.length) {
            html("li", "... " + (p.files_total - p.files.length) + " more file(s)", files, "muted");
          }
        });
        list.dataset.ready = "1";
      });
  }

  function drawPlaces(res) {
    res.points.forEach(function (pt) {
      const p = project(pt.lon, pt.lat);
      const c = el("circle", { cx: p[0], cy: p[1], r: 1.6, class: "place" }, dots);
      c.dataset.lat = String(pt.lat);
      c.dataset.lon = String(pt.lon);
      c.dataset.pictures = String(pt.pictures);
      html("title", pt.lat + ", " + pt.lon + ": " + pt.pictures + " picture(s)", c);
      c.addEventListener("click", function (ev) { ev.stopPropagation(); showPlace(c, pt); });
    });
    const n = res.points.reduce(function (s, p) { return s + p.pictures; }, 0);
    info.textContent = res.points.length + " place(s), " + n + " picture(s)" +
      (res.truncated ? " (truncated: filter by device or item to see all)" : "") + (res.error ? " · " + res.error : "");
  }

  // Zoom with the wheel around the pointer; pan by dragging.
  function toMap(ev) {
    const r = svg.getBoundingClientRect();
    const s = Math.max(view.w / r.width, view.h / r.height);
    const ox = (r.width * s - view.w) / 2, oy = (r.height * s - view.h) / 2;
    return [view.x - ox + (ev.clientX - r.left) * s, view.y - oy + (ev.clientY - r.top) * s, s];
  }
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    const m = toMap(ev);
    const k = ev.deltaY < 0 ? 0.8 : 1.25;
    const w = Math.min(360, Math.max(2, view.w * k));
    const f = w / view.w;
    view = { x: m[0] - (m[0] - view.x) * f, y: m[1] - (m[1] - view.y) * f, w: w, h: w / 2 };
    setView();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", function (ev) { drag = { x: ev.clientX, y: ev.clientY, v: view }; });
  window.addEventListener("pointerup", function () { drag = null; });
  svg.addEventListener("pointermove", function (ev) {
    if (!drag) { return; }
    const s = toMap(ev)[2];
    view = { x: drag.v.x - (ev.clientX - drag.x) * s, y: drag.v.y - (ev.clientY - drag.y) * s, w: drag.v.w, h: drag.v.h };
    setView();
  });

  const q = new URLSearchParams();
  if (box.dataset.device) { q.set("device", box.dataset.device); }
  if (box.dataset.item) { q.set("item", box.dataset.item); }
  Promise.all([
    fetch("/static/basemap.geojson", { credentials: "same-origin" }).then(function (r) { return r.json(); }),
    fetch("/api/places?" + q.toString(), { credentials: "same-origin" }).then(function (r) { return r.json(); }),
  ]).then(function (both) {
    drawBasemap(both[0]);
    drawPlaces(both[1]);
    setView();
    box.dataset.ready = "1";
  });
})();
