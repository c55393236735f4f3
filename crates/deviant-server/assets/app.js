// deviant dashboard: the little behaviour the server-rendered pages need. No build step,
// no libraries; every call goes to /api/v1 with the session cookie.
"use strict";

const deviant = {};

deviant.errorText = async (response) => {
  try {
    return (await response.json()).error || response.statusText;
  } catch (_) {
    return response.statusText;
  }
};

// A text cell for a CSV download, quoted. Text that a spreadsheet would read as a formula
// (it starts with =, +, -, @, a tab or a carriage return) gets a leading apostrophe, so that
// a column named "=HYPERLINK(…)" in someone's data stays text.
deviant.csvText = (text) => {
  const formula = /^[=+\-@\t\r]/.test(text) ? "'" : "";
  return '"' + formula + String(text).replace(/"/g, '""') + '"';
};

// Upload with a progress bar, then open the dataset's page.
deviant.upload = (form) => {
  const bar = form.querySelector("progress");
  const out = form.querySelector(".error");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    out.textContent = "";
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/datasets");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { bar.value = e.loaded / e.total; }
    };
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status === 201) {
        location.href = "/datasets/" + body.id;
      } else {
        out.textContent = body.error || xhr.statusText;
      }
    };
    xhr.onerror = () => { out.textContent = "the upload failed; is the server running?"; };
    xhr.send(new FormData(form));
  });
};

// Click a header to sort a table by that column (numbers as numbers).
deviant.sortable = (table) => {
  table.querySelectorAll("th.sortable").forEach((th, column) => {
    th.addEventListener("click", () => {
      const body = table.tBodies[0];
      const index = Array.from(th.parentNode.children).indexOf(th);
      const ascending = th.dataset.order !== "asc";
      th.dataset.order = ascending ? "asc" : "desc";
      const key = (row) => {
        const text = row.children[index].textContent.trim();
        const number = parseFloat(text);
        return Number.isNaN(number) ? text : number;
      };
      const rows = Array.from(body.rows).sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach((row) => body.appendChild(row));
    });
  });
};

// A small live chart of training (solid) and validation (dashed) loss per epoch.
deviant.lossChart = (svg, points) => {
  const [w, h, pad] = [600, 160, 24];
  const values = points.flatMap((p) => [p.loss, p.valid].filter((v) => v !== null));
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const last = points[points.length - 1].epoch;
  const x = (epoch) => pad + (w - 2 * pad) * (last > 1 ? (epoch - 1) / (last - 1) : 0.5);
  const y = (v) => h - pad - (h - 2 * pad) * (hi > lo ? (v - lo) / (hi - lo) : 0.5);
  const line = (key, colour, dash) => {
    const coords = points.filter((p) => p[key] !== null).map((p) => x(p.epoch).toFixed(1) + "," + y(p[key]).toFixed(1));
    return coords.length ? `<polyline fill="none" stroke="${colour}" stroke-width="2" ${dash} points="${coords.join(" ")}"/>` : "";
  };
  svg.innerHTML = `<rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="#fcfcfc" stroke="#ccc"/>` +
    line("loss", "#4477AA", "") + line("valid", "#EE6677", 'stroke-dasharray="6 4"') +
    `<text x="${pad}" y="16" font-size="12" fill="#333">loss per epoch: ${points[points.length - 1].loss.toPrecision(4)} (epoch ${last})</text>`;
  svg.hidden = false;
};

// Live progress of a queued or running run; the page reloads when it ends.
deviant.follow = (runId) => {
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  const chart = document.getElementById("live-loss");
  const points = [];
  const events = new EventSource("/api/v1/runs/" + runId + "/events");
  events.addEventListener("progress", (e) => {
    const event = JSON.parse(e.data);
    if (event.epoch !== null && event.loss !== null && (points.length === 0 || points[points.length - 1].epoch !== event.epoch)) {
      points.push({ epoch: event.epoch, loss: event.loss, valid: event.valid_loss });
      deviant.lossChart(chart, points);
    }
    if (event.total > 0) { bar.max = event.total; bar.value = event.done; }
    text.textContent = event.status + " · " + event.phase + (event.message ? " · " + event.message : "");
    if (["succeeded", "failed", "cancelled"].includes(event.status)) {
      events.close();
      location.reload();
    }
  });
};

// A running selection's leaderboard, refreshed as attempts end (the page reloads at the end).
deviant.liveLeaderboard = (runId) => {
  const body = document.querySelector("#leaderboard tbody");
  const cell = (text, numeric) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) { td.className = "num"; }
    return td;
  };
  const number = (v, digits) => (typeof v === "number" ? v.toFixed(digits) : "");
  const refresh = async () => {
    const response = await fetch("/api/v1/runs/" + runId + "/leaderboard");
    if (response.status === 200) {
      const board = await response.json();
      body.replaceChildren(...board.attempts.map((a) => {
        const tr = document.createElement("tr");
        tr.append(cell(a.label), cell(a.status), cell(a.supervised ? "yes" : "no"), cell(number(a.predicted, 4), true),
          cell(number(a.select_roc_auc, 4), true), cell(String(a.rows), true), cell(number(a.fit_seconds, 2), true));
        return tr;
      }));
    }
    setTimeout(refresh, 1000);
  };
  refresh();
};

// The threshold explorer: metrics of flagging `score >= t` on the run's test rows.
deviant.threshold = (data) => {
  const sorted = data.scores.map((s, i) => [s, data.labels[i]]).sort((a, b) => a[0] - b[0]);
  const slider = document.getElementById("threshold");
  const value = document.getElementById("threshold-value");
  const n = sorted.length;
  const positives = sorted.filter((p) => p[1] === 1).length;
  // The slider walks the test scores' quantiles; position p flags the top (1 - p) share.
  const at = (position) => sorted[Math.min(n - 1, Math.floor(position * n))][0];
  const show = (t) => {
    let tp = 0; let fp = 0;
    for (const [s, l] of sorted) { if (s >= t) { if (l === 1) { tp += 1; } else { fp += 1; } } }
    const fn = positives - tp; const tn = n - positives - fp;
    const ratio = (a, b) => (b === 0 ? 0 : a / b);
    const p = ratio(tp, tp + fp); const r = ratio(tp, tp + fn);
    const f = (beta) => (p + r === 0 ? 0 : (1 + beta * beta) * p * r / (beta * beta * p + r));
    const set = (id, v) => { document.getElementById(id).textContent = v; };
    value.textContent = t.toPrecision(4);
    set("m-precision", p.toFixed(4)); set("m-recall", r.toFixed(4));
    set("m-f1", f(1).toFixed(4)); set("m-f2", f(2).toFixed(4));
    set("m-accuracy", ratio(tp + tn, n).toFixed(4));
    set("c-tp", tp); set("c-fp", fp); set("c-tn", tn); set("c-fn", fn);
  };
  const start = sorted.findIndex((p) => p[0] >= data.threshold);
  slider.value = start < 0 ? 1 : start / n;
  show(data.threshold);
  slider.addEventListener("input", () => show(at(parseFloat(slider.value))));
};

// The training form: defaults per detector, columns per dataset, then POST /api/v1/runs.
deviant.train = (form, detectors, datasets) => {
  const detector = form.elements.detector;
  const dataset = form.elements.dataset;
  const params = form.elements.params;
  const fillParams = () => {
    const kind = detectors.find((d) => d.kind === detector.value);
    params.value = JSON.stringify(kind ? kind.defaults.params : {}, null, 2);
    document.getElementById("detector-help").textContent = kind ? kind.summary
      : "Tries the catalogue's detectors within the budget and keeps the best, alone or as an ensemble: chosen on the labelled validation rows when there is a label, else by what the benchmark corpus predicts.";
  };
  const fillColumns = () => {
    const columns = (datasets.find((d) => d.id === dataset.value) || { columns: [] }).columns;
    for (const select of [form.elements.label, form.elements.ignore]) {
      const keep = select === form.elements.label ? '<option value="">(none)</option>' : "";
      select.innerHTML = keep;
      for (const c of columns) {
        const option = document.createElement("option");
        option.value = c.name; option.textContent = c.name + " (" + c.kind + ")";
        select.appendChild(option);
      }
    }
    const guess = columns.find((c) => /^(label|class|target|y|is_anomaly|anomaly)$/i.test(c.name));
    if (guess) { form.elements.label.value = guess.name; }
  };
  detector.addEventListener("change", fillParams);
  dataset.addEventListener("change", fillColumns);
  fillParams(); fillColumns();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = form.querySelector(".error");
    out.textContent = "";
    let parsed;
    try { parsed = JSON.parse(params.value || "{}"); } catch (e) {
      out.textContent = "parameters are not valid JSON: " + e.message; return;
    }
    const request = {
      dataset: dataset.value, detector: detector.value, params: parsed,
      label: form.elements.label.value || null,
      normal: form.elements.normal.value.split(",").map((v) => v.trim()).filter((v) => v !== ""),
      ignore: Array.from(form.elements.ignore.selectedOptions).map((o) => o.value),
      validation_share: parseFloat(form.elements.validation_share.value),
      test_share: parseFloat(form.elements.test_share.value),
      threshold: form.elements.threshold.value || null,
      seed: parseInt(form.elements.seed.value, 10),
      // Left empty, the server's default budget applies.
      budget_seconds: parseFloat(form.elements.budget_seconds.value) || undefined,
    };
    const response = await fetch("/api/v1/runs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    if (response.status === 202) {
      location.href = "/runs/" + (await response.json()).id;
    } else {
      out.textContent = await deviant.errorText(response);
    }
  });
};

// Rows pasted as a JSON array of objects, or as CSV with a header row.
deviant.parseRows = (text) => {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) { return JSON.parse(trimmed); }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== "");
  const header = lines[0].split(",").map((h) => h.trim());
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const row = {};
    header.forEach((h, i) => {
      const cell = (cells[i] || "").trim();
      row[h] = cell !== "" && !Number.isNaN(Number(cell)) ? Number(cell) : cell;
    });
    return row;
  });
};

// Score pasted or uploaded rows with a run's model; show and offer them as CSV.
deviant.predict = (form, runId) => {
  const out = form.querySelector(".error");
  const result = document.getElementById("predictions");
  form.elements.file.addEventListener("change", async () => {
    const file = form.elements.file.files[0];
    if (file) { form.elements.rows.value = await file.text(); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    out.textContent = "";
    let rows;
    try { rows = deviant.parseRows(form.elements.rows.value); } catch (e) {
      out.textContent = "could not read the rows: " + e.message; return;
    }
    // The pasted or uploaded rows are one batch, as a file is for `deviant score`.
    const response = await fetch("/api/v1/runs/" + runId + "/score?batch=true", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ rows }),
    });
    if (!response.ok) { out.textContent = await deviant.errorText(response); return; }
    const scored = await response.json();
    const csv = ["row,score,anomaly,top_features"];
    const body = scored.rows.map((r, i) => {
      const features = (r.top_features || []).map((f) => f.feature + " (" + f.contribution.toPrecision(3) + ")").join("; ");
      csv.push([i + 1, r.score, r.anomaly ? 1 : 0, deviant.csvText(features)].join(","));
      const tr = document.createElement("tr");
      for (const [text, cls] of [[i + 1, "num"], [r.score.toPrecision(5), "num"], [r.anomaly ? "anomaly" : "normal", r.anomaly ? "status failed" : ""], [features, ""]]) {
        const td = document.createElement("td");
        td.textContent = text; td.className = cls;
        tr.appendChild(td);
      }
      return tr;
    });
    result.querySelector("tbody").replaceChildren(...body);
    result.hidden = false;
    const link = document.getElementById("download");
    link.href = URL.createObjectURL(new Blob([csv.join("\n") + "\n"], { type: "text/csv" }));
  });
};

// Compare the runs whose boxes are ticked.
deviant.compare = (button) => {
  button.addEventListener("click", () => {
    const ids = Array.from(document.querySelectorAll("input.pick:checked")).map((c) => c.value);
    if (ids.length > 0) { location.href = "/runs/compare?ids=" + ids.join(","); }
  });
};

// Start a stream from the form: the run's model on a broker; then its live page.
deviant.startStream = (form) => {
  const out = form.querySelector(".error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    out.textContent = "";
    const request = { run: form.elements.run.value, source: form.elements.source.value.trim() };
    const sink = form.elements.sink.value.trim();
    if (sink) { request.sink = sink; }
    const drift = parseInt(form.elements.drift.value, 10);
    if (drift > 0) { request.drift_window = drift; }
    const response = await fetch("/api/v1/streams", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    if (!response.ok) { out.textContent = await deviant.errorText(response); return; }
    location.href = "/streams/" + (await response.json()).id;
  });
};

// A stream as it runs: scores over time with the threshold line, flagged rows as they come,
// rows per second and lag, drift events and refits.
deviant.liveStream = (streamId) => {
  const chart = document.getElementById("live-scores");
  const flaggedBody = document.querySelector("#flagged tbody");
  const drifts = document.getElementById("drifts");
  const field = (name) => document.getElementById(name);
  const recent = [];
  let threshold = null;
  const draw = () => {
    const [w, h, pad] = [600, 200, 24];
    if (recent.length === 0) { return; }
    const values = threshold === null ? recent : recent.concat([threshold]);
    const [lo, hi] = [Math.min(...values), Math.max(...values)];
    const x = (i) => pad + (w - 2 * pad) * (recent.length > 1 ? i / (recent.length - 1) : 0.5);
    const y = (v) => h - pad - (h - 2 * pad) * (hi > lo ? (v - lo) / (hi - lo) : 0.5);
    const points = recent.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    const line = threshold === null ? "" :
      `<line x1="${pad}" x2="${w - pad}" y1="${y(threshold).toFixed(1)}" y2="${y(threshold).toFixed(1)}" stroke="#EE6677" stroke-dasharray="6 4"/>`;
    chart.innerHTML = `<rect x="${pad}" y="${pad}" width="${w - 2 * pad}" height="${h - 2 * pad}" fill="#fcfcfc" stroke="#ccc"/>` +
      `<polyline fill="none" stroke="#4477AA" stroke-width="1.5" points="${points}"/>` + line +
      `<text x="${pad}" y="16" font-size="12" fill="#333">last ${recent.length} scores; dashed: the threshold</text>`;
  };
  const show = (view) => {
    field("rows").textContent = view.rows;
    field("flagged-count").textContent = view.flagged;
    field("refused").textContent = view.refused;
    field("rate").textContent = view.rows_per_second.toFixed(0);
    field("lag").textContent = view.lag_ms.toFixed(1);
    field("state").textContent = view.state + (view.error ? " · " + view.error : "");
    if (view.threshold !== null) { threshold = view.threshold; }
  };
  const list = (lines) => {
    for (const line of lines) {
      const row = JSON.parse(line);
      const tr = document.createElement("tr");
      const top = (row.top || []).map((f) => f.feature).join(", ");
      for (const [text, cls] of [[row.id ?? row.line, ""], [row.score.toPrecision(5), "num"], [top, ""]]) {
        const td = document.createElement("td");
        td.textContent = text; td.className = cls;
        tr.appendChild(td);
      }
      flaggedBody.prepend(tr);
    }
  };
  let view = null;
  const events = new EventSource("/api/v1/streams/" + streamId + "/events");
  // The first view brings the recent scores and flagged rows; each batch after it adds its own.
  events.addEventListener("status", (e) => {
    view = JSON.parse(e.data);
    recent.splice(0, recent.length, ...view.recent_scores);
    flaggedBody.replaceChildren();
    list(view.recent_flagged);
    show(view);
    draw();
  });
  events.addEventListener("batch", (e) => {
    const batch = JSON.parse(e.data);
    if (Number.isFinite(batch.threshold)) { threshold = batch.threshold; }
    recent.push(...batch.scores);
    recent.splice(0, Math.max(0, recent.length - 500));
    list(batch.flagged_rows);
    while (flaggedBody.children.length > 50) { flaggedBody.lastChild.remove(); }
    if (view) {
      view.rows += batch.scores.length + batch.refused;
      view.flagged += batch.flagged;
      view.refused += batch.refused;
      view.lag_ms = batch.lag_ms;
      show(view);
    }
    draw();
  });
  events.addEventListener("drift", (e) => {
    const drift = JSON.parse(e.data);
    const li = document.createElement("li");
    li.textContent = `row ${drift.row}: KS ${drift.statistic.toFixed(3)}, flag rate ${(100 * drift.reference_flag_rate).toFixed(1)} % → ${(100 * drift.flag_rate).toFixed(1)} %`;
    drifts.prepend(li);
  });
  events.addEventListener("refit", (e) => {
    const li = document.createElement("li");
    li.textContent = "refitted: " + JSON.parse(e.data).model;
    drifts.prepend(li);
  });
  // Rows per second and the state from the server, every two seconds; the counts stay the
  // event feed's, so that they always match the rows listed.
  setInterval(async () => {
    const response = await fetch("/api/v1/streams/" + streamId);
    if (!response.ok || view === null) { return; }
    const now = await response.json();
    Object.assign(view, { state: now.state, error: now.error, rows_per_second: now.rows_per_second });
    show(view);
  }, 2000);
  document.getElementById("stop").addEventListener("click", async () => {
    await fetch("/api/v1/streams/" + streamId + "/stop", { method: "POST" });
  });
};

// Pages name what their elements need in data-init (and the run or stream in data-id), and
// carry no script of their own, so that the Content-Security-Policy can forbid inline script.
// Attributes are read with getAttribute: a form's `dataset` is its control named "dataset".
const embedded = (id) => JSON.parse(document.getElementById(id).textContent);
const idOf = (el) => el.getAttribute("data-id");
const starters = {
  upload: (el) => deviant.upload(el),
  sortable: (el) => deviant.sortable(el),
  train: (el) => deviant.train(el, embedded("detectors"), embedded("datasets-json")),
  compare: (el) => deviant.compare(el),
  follow: (el) => deviant.follow(idOf(el)),
  cancel: (el) => el.addEventListener("click", () =>
    fetch("/api/v1/runs/" + idOf(el) + "/cancel", { method: "POST" })),
  threshold: (el) => deviant.threshold(JSON.parse(el.textContent)),
  predict: (el) => deviant.predict(el, idOf(el)),
  leaderboard: (el) => deviant.liveLeaderboard(idOf(el)),
  "start-stream": (el) => deviant.startStream(el),
  stream: (el) => deviant.liveStream(idOf(el)),
};
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-init]")) {
    starters[el.getAttribute("data-init")](el);
  }
});
