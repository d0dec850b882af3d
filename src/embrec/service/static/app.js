// embrec's page: search and rate items, watch the recommendations follow, see the map of the items.
// Every piece of data reaches the page through textContent or canvas text, never as HTML.
// What the items are called comes from the data (/api/health): films for MovieLens, items otherwise.
"use strict";

(() => {
  const USER_KEY = "embrec.newUser";
  const state = {
    health: null,
    userId: null,
    ratings: new Map(),      // item id (as text) -> stars
    recs: [],
    diversity: 0,
    map: null,               // {points, byItem, bounds}
    selected: null,          // item id (as text)
    view: { scale: 1, dx: 0, dy: 0 },
    hover: null,
  };
  const $ = (id) => document.getElementById(id);
  const words = { item: "item", items: "items" };  // until /api/health says what the data holds

  // ------------------------------------------------------------------ helpers
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { Accept: "application/json" } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error(describeError(data, response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function describeError(data, status) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && Array.isArray(data.detail)) return data.detail.map((d) => d.msg).join("; ");
    return `request failed (HTTP ${status})`;
  }

  function notify(message) {
    const box = $("notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function key(item) { return String(item); }

  function meta(film) {
    const parts = [];
    if (film.year) parts.push(String(film.year));
    if (film.genres && film.genres.length) parts.push(film.genres.join(", "));
    parts.push(`${film.n_ratings.toLocaleString()} ratings`);
    return parts.join(" · ");
  }

  function starValues() {
    const scale = state.health && state.health.rating_scale;
    if (!scale) return [1, 2, 3, 4, 5];
    const lo = Math.ceil(scale[0]);
    const hi = Math.floor(scale[1]);
    if (hi - lo + 1 >= 2 && hi - lo + 1 <= 10) {
      return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
    }
    return Array.from({ length: 5 }, (_, i) => scale[0] + ((scale[1] - scale[0]) * i) / 4);
  }

  function stars(film) {
    const mine = state.ratings.get(key(film.item));
    const box = el("span", { class: "stars", role: "group", "aria-label": `Rate this ${words.item}` });
    for (const value of starValues()) {
      box.append(el("button", {
        type: "button",
        class: mine !== undefined && value <= mine ? "star on" : "star",
        text: "★",
        title: `rate ${value}`,
        "aria-label": `rate ${value}`,
        dataset: { value: String(value) },
        onclick: (event) => { event.stopPropagation(); rate(film.item, value); },
      }));
    }
    return box;
  }

  function titleButton(film) {
    return el("button", {
      type: "button", class: "title", text: film.title, title: film.title,
      onclick: () => select(film.item),
    });
  }

  function capital(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

  function article(noun) { return /^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`; }

  // the page's own words for the items, in every [data-word] span and the texts set here
  function applyWords(data) {
    words.item = data.item;
    words.items = data.items;
    const forms = {
      item: data.item, items: data.items, Item: capital(data.item), Items: capital(data.items), "an item": article(data.item),
    };
    for (const node of document.querySelectorAll("[data-word]")) node.textContent = forms[node.dataset.word] || "";
    document.title = `embrec: rate ${data.items}, get recommendations`;
    const box = $("search");
    box.placeholder = data.search_example ? `Search titles, e.g. ${data.search_example}` : "Search titles";
    box.setAttribute("aria-label", `Search ${data.items} by title`);
    $("map").setAttribute("aria-label", `${capital(data.items)} placed by their embeddings (first two principal components)`);
  }

  // ------------------------------------------------------------------ lists
  function renderResults(data) {
    const list = $("results");
    list.replaceChildren(...data.results.map((film) => el("li", { class: "result", dataset: { item: key(film.item) } }, [
      titleButton(film), stars(film), el("span", { class: "meta", text: meta(film) }),
    ])));
    const query = data.query.trim();
    $("search-info").textContent = query
      ? `${data.total.toLocaleString()} ${data.total === 1 ? `${words.item} matches` : `${words.items} match`} “${query}”${data.total > data.results.length ? `, the ${data.results.length} most rated shown` : ""}.`
      : `The most rated ${words.items}:`;
  }

  function renderRatings(user) {
    state.ratings = new Map(user.ratings.map((r) => [key(r.item), r.rating]));
    $("rating-count").textContent = String(user.ratings.length);
    $("ratings-empty").hidden = user.ratings.length > 0;
    $("ratings").replaceChildren(...user.ratings.map((film) => el("li", { class: "rated", dataset: { item: key(film.item) } }, [
      titleButton(film),
      el("span", { class: "row" }, [
        el("span", { class: "my-rating", text: `${film.rating}★` }),
        el("button", {
          type: "button", class: "remove", text: "×", title: "remove this rating", "aria-label": "remove this rating",
          onclick: () => unrate(film.item),
        }),
      ]),
      el("span", { class: "meta", text: meta(film) }),
    ])));
    // the stars in the search results show the user's ratings too
    for (const row of $("results").children) {
      const film = { item: row.dataset.item };
      row.querySelector(".stars").replaceWith(stars(film));
    }
  }

  function renderRecs(recs) {
    state.recs = recs;
    $("recs-empty").hidden = recs.length > 0;
    const top = recs.length ? recs[0].score : 0;
    const bottom = recs.length ? recs[recs.length - 1].score : 0;
    $("recs").replaceChildren(...recs.map((film) => {
      const share = top > bottom ? 0.25 + (0.75 * (film.score - bottom)) / (top - bottom) : 1;
      const bar = el("span", { class: "score-bar" });
      bar.style.width = `${Math.round(share * 100)}%`;
      return el("li", { class: "rec", dataset: { item: key(film.item) } }, [
        el("span", { class: "rank", text: String(film.rank) }),
        titleButton(film),
        stars(film),
        el("span", { class: "meta" }, [document.createTextNode(meta(film)), bar]),
      ]);
    }));
    drawMap();
  }

  function applyUser(data) {
    renderRatings(data);
    if (data.recommendations) renderRecs(data.recommendations);
    else drawMap();
    if (state.selected !== null) renderDetailsStars();
  }

  // ------------------------------------------------------------------ the new user
  async function ensureUser() {
    const stored = localStorage.getItem(USER_KEY);
    if (stored) {
      try {
        const user = await api(`api/new-users/${encodeURIComponent(stored)}`);
        state.userId = user.user_id;
        renderRatings(user);
        return;
      } catch (error) {
        if (error.status !== 404) throw error;
      }
    }
    const user = await api("api/new-users", { method: "POST" });
    state.userId = user.user_id;
    localStorage.setItem(USER_KEY, user.user_id);
    renderRatings(user);
  }

  function userPath(suffix = "") {
    return `api/new-users/${encodeURIComponent(state.userId)}${suffix}`;
  }

  function listParams() {
    return `?n=12&lambda=${state.diversity}`;
  }

  async function refreshRecs() {
    if (!state.userId) return;
    try {
      applyUser(await api(userPath("/recommendations") + listParams()));
      notify("");
    } catch (error) { notify(error.message); }
  }

  async function rate(item, rating) {
    try {
      applyUser(await api(userPath("/ratings") + listParams(), { method: "POST", body: { item, rating } }));
      notify("");
    } catch (error) { notify(error.message); }
  }

  async function unrate(item) {
    try {
      applyUser(await api(userPath(`/ratings/${encodeURIComponent(key(item))}`) + listParams(), { method: "DELETE" }));
      notify("");
    } catch (error) { notify(error.message); }
  }

  async function startOver() {
    localStorage.removeItem(USER_KEY);
    state.userId = null;
    try {
      await ensureUser();
      renderRecs([]);
      notify("");
    } catch (error) { notify(error.message); }
  }

  // ------------------------------------------------------------------ search
  let searchTimer = null;
  let searchSeq = 0;
  async function search(query) {
    const seq = ++searchSeq;
    try {
      const data = await api(`api/films?limit=15&q=${encodeURIComponent(query)}`);
      if (seq === searchSeq) renderResults(data);  // answers may arrive out of order
    } catch (error) { notify(error.message); }
  }

  // ------------------------------------------------------------------ details of one film
  async function select(item) {
    state.selected = key(item);
    drawMap();
    try {
      const [film, similar] = await Promise.all([
        api(`api/films/${encodeURIComponent(key(item))}`),
        state.health && state.health.has_map
          ? api(`api/films/${encodeURIComponent(key(item))}/similar?n=6`)
          : Promise.resolve({ results: [] }),
      ]);
      if (state.selected !== key(item)) return;
      state.selectedFilm = film;
      $("details").hidden = false;
      $("details-title").textContent = film.title;
      const extra = film.mean_rating !== null ? ` · mean ${film.mean_rating.toFixed(2)}★` : "";
      $("details-meta").textContent = meta(film) + extra;
      renderDetailsStars();
      $("similar").replaceChildren(...similar.results.map((s) => el("li", {}, [
        titleButton(s), el("span", { class: "score", text: s.similarity.toFixed(2) }),
        el("span", { class: "meta", text: meta(s) }),
      ])));
    } catch (error) { notify(error.message); }
  }

  function renderDetailsStars() {
    if (!state.selectedFilm) return;
    $("details-stars").replaceChildren(stars(state.selectedFilm));
  }

  // ------------------------------------------------------------------ the map
  async function loadMap() {
    if (!state.health.has_map) {
      $("map-info").textContent = "This model has no item vectors, so there is no map.";
      return;
    }
    const data = await api("api/map");
    const points = data.points;
    const byItem = new Map(points.map((p) => [key(p.item), p]));
    // frame the films that shaped the axes; rarely rated ones may sit off screen until zoomed out
    const framed = points.filter((p) => p.n_ratings >= data.min_ratings);
    const shown = framed.length >= 3 ? framed : points;
    const bounds = { x0: Infinity, x1: -Infinity, y0: Infinity, y1: -Infinity };
    for (const p of shown) {
      bounds.x0 = Math.min(bounds.x0, p.x); bounds.x1 = Math.max(bounds.x1, p.x);
      bounds.y0 = Math.min(bounds.y0, p.y); bounds.y1 = Math.max(bounds.y1, p.y);
    }
    const maxCount = points.reduce((most, p) => Math.max(most, p.n_ratings), 1);
    state.map = { points, byItem, bounds, maxCount };
    const [vx, vy] = data.explained_variance;
    $("map-info").textContent =
      `${points.length.toLocaleString()} ${words.items} placed by the first two principal components of their embeddings ` +
      `(${(100 * vx).toFixed(0)}% and ${(100 * vy).toFixed(0)}% of the variance of ${words.items} with ${data.min_ratings}+ ratings). ` +
      "Scroll to zoom, drag to move, click a dot.";
    drawMap();
  }

  function canvasSize() {
    const canvas = $("map");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    return { canvas, ratio, width, height };
  }

  function project(p, width, height) {
    const { bounds, } = state.map;
    const pad = 24;
    const sx = (width - 2 * pad) / Math.max(bounds.x1 - bounds.x0, 1e-9);
    const sy = (height - 2 * pad) / Math.max(bounds.y1 - bounds.y0, 1e-9);
    const { scale, dx, dy } = state.view;
    const x = pad + (p.x - bounds.x0) * sx;
    const y = height - pad - (p.y - bounds.y0) * sy;
    return [(x - width / 2) * scale + width / 2 + dx, (y - height / 2) * scale + height / 2 + dy];
  }

  function drawMap() {
    if (!state.map) return;
    const { canvas, ratio, width, height } = canvasSize();
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const logMax = Math.log1p(state.map.maxCount);
    for (const p of state.map.points) {
      const [x, y] = project(p, width, height);
      if (x < -4 || y < -4 || x > width + 4 || y > height + 4) continue;
      const weight = Math.log1p(p.n_ratings) / logMax;
      ctx.fillStyle = `rgba(71, 85, 105, ${0.12 + 0.5 * weight})`;
      const r = 1 + 2.2 * weight;
      ctx.fillRect(x - r / 2, y - r / 2, r, r);
    }
    const recItems = state.recs.map((r) => key(r.item));
    const marks = [];
    for (const item of recItems) marks.push([item, "#0d9488", 5]);
    for (const item of state.ratings.keys()) marks.push([item, "#ea580c", 5.5]);
    if (state.selected !== null) marks.push([state.selected, "#7c3aed", 7]);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const labelled = [];
    for (const [item, color, radius] of marks) {
      const p = state.map.byItem.get(item);
      if (!p) continue;
      const [x, y] = project(p, width, height);
      ctx.beginPath();
      ctx.arc(x, y, radius, 0, 2 * Math.PI);
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = "#ffffff";
      ctx.stroke();
      labelled.push([p, x, y, color]);
    }
    // labels last, with a halo, skipping any that would sit on one already drawn
    const taken = [];
    for (const [p, x, y, color] of labelled.reverse()) {
      const text = p.title.length > 28 ? `${p.title.slice(0, 27)}…` : p.title;
      const w = ctx.measureText(text).width;
      const left = x + 12 + w > width - 4;  // near the right edge the label goes on the left
      const tx = left ? x - 9 - w : x + 9;
      const box = [tx - 2, y - 7, tx + w + 2, y + 7];
      if (taken.some((b) => box[0] < b[2] && box[2] > b[0] && box[1] < b[3] && box[3] > b[1])) continue;
      taken.push(box);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
      ctx.strokeText(text, tx, y);
      ctx.fillStyle = color;
      ctx.fillText(text, tx, y);
    }
  }

  function nearest(mx, my) {
    if (!state.map) return null;
    const canvas = $("map");
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    let best = null;
    let bestD = 64;  // within 8 px
    for (const p of state.map.points) {
      const [x, y] = project(p, width, height);
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD) { bestD = d; best = p; }
    }
    return best;
  }

  function setupMap() {
    const canvas = $("map");
    const tip = $("tooltip");
    let drag = null;
    canvas.addEventListener("mousedown", (e) => {
      drag = { x: e.clientX, y: e.clientY, dx: state.view.dx, dy: state.view.dy, moved: false };
      canvas.classList.add("dragging");
    });
    window.addEventListener("mouseup", (e) => {
      if (drag && !drag.moved && e.target === canvas) {
        const rect = canvas.getBoundingClientRect();
        const p = nearest(e.clientX - rect.left, e.clientY - rect.top);
        if (p) select(p.item);
      }
      drag = null;
      canvas.classList.remove("dragging");
    });
    canvas.addEventListener("mousemove", (e) => {
      const rect = canvas.getBoundingClientRect();
      const mx = e.clientX - rect.left;
      const my = e.clientY - rect.top;
      if (drag) {
        const dx = e.clientX - drag.x;
        const dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        state.view.dx = drag.dx + dx;
        state.view.dy = drag.dy + dy;
        drawMap();
        tip.hidden = true;
        return;
      }
      const p = nearest(mx, my);
      if (!p) { tip.hidden = true; return; }
      tip.textContent = `${p.title} · ${p.genres.join(", ") || "no genres"}`;
      tip.style.left = `${Math.min(mx + 12, rect.width - 200)}px`;
      tip.style.top = `${my + 12}px`;
      tip.hidden = false;
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const mx = e.clientX - rect.left - rect.width / 2;
      const my = e.clientY - rect.top - rect.height / 2;
      const factor = e.deltaY < 0 ? 1.25 : 0.8;
      const scale = Math.min(40, Math.max(0.5, state.view.scale * factor));
      const applied = scale / state.view.scale;
      state.view.dx = mx - (mx - state.view.dx) * applied;
      state.view.dy = my - (my - state.view.dy) * applied;
      state.view.scale = scale;
      drawMap();
    }, { passive: false });
    window.addEventListener("resize", drawMap);
  }

  // ------------------------------------------------------------------ start
  async function start() {
    setupMap();
    $("search").addEventListener("input", (e) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => search(e.target.value), 150);
    });
    $("diversity").addEventListener("change", (e) => {
      state.diversity = Number(e.target.value);
      $("diversity-value").textContent = e.target.value;
      refreshRecs();
    });
    $("diversity").addEventListener("input", (e) => { $("diversity-value").textContent = e.target.value; });
    $("start-over").addEventListener("click", startOver);
    try {
      state.health = await api("api/health");
      const h = state.health;
      applyWords(h.data);
      const kind = h.objective ? `${h.model} (${h.objective})` : h.model;
      const trained = h.data.name ? ` on ${h.data.name}` : "";
      $("model-info").textContent =
        `${kind}${trained} · ${h.n_items.toLocaleString()} ${h.data.items} · ${h.n_users.toLocaleString()} users`;
      if (!h.can_fold_in) {
        notify("This model cannot fold new users in, so ratings here give no recommendations.");
      }
      await search("");
      if (h.can_fold_in) {
        await ensureUser();
        await refreshRecs();
      }
      await loadMap();
      document.body.dataset.ready = "true";
    } catch (error) {
      notify(error.message);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
