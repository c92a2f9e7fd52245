// The box's live page: polls the API for the board, queue and runs, and follows the running
// job's Server-Sent Events (read through fetch, so the bearer token travels in a header).
"use strict";

const state = { token: "", following: null, abort: null, charts: {}, updates: 0 };

function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + state.token }, options.headers || {});
  return fetch(path, Object.assign({}, options, { headers })).then(async (response) => {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error((body.error && (body.error.message || body.error)) || response.statusText);
    return body;
  });
}

function text(tag, content, className) {
  const element = document.createElement(tag);
  element.textContent = content;
  if (className) element.className = className;
  return element;
}

function makeChart(id, label, logarithmic) {
  const context = document.getElementById(id);
  return new Chart(context, {
    type: "line",
    data: { datasets: [
      { label: "train", data: [], borderColor: "#1565c0", pointRadius: 0, borderWidth: 1.5 },
      { label: "held out", data: [], borderColor: "#e65100", pointRadius: 0, borderWidth: 1.5 },
    ] },
    options: {
      animation: false, parsing: false, responsive: true,
      plugins: { legend: { position: "bottom" }, title: { display: true, text: label } },
      scales: {
        x: { type: "linear", min: 0, title: { display: true, text: "device seconds (s)" } },
        y: { type: logarithmic ? "logarithmic" : "linear", title: { display: true, text: label } },
      },
    },
  });
}

function resetCharts() {
  for (const chart of Object.values(state.charts)) chart.destroy();
  state.charts = { loss: makeChart("loss-chart", "loss (cross-entropy)", true), accuracy: makeChart("accuracy-chart", "accuracy", false) };
  state.updates = 0;
}

function addEvaluation(evaluation) {
  const x = evaluation.deviceSeconds ?? evaluation.forwardPasses;
  if (evaluation.deviceSeconds === undefined) {
    for (const chart of Object.values(state.charts)) chart.options.scales.x.title.text = "forward passes";
  }
  state.charts.loss.data.datasets[0].data.push({ x, y: evaluation.trainLoss });
  state.charts.loss.data.datasets[1].data.push({ x, y: evaluation.testLoss });
  state.charts.accuracy.data.datasets[0].data.push({ x, y: evaluation.trainMetric });
  state.charts.accuracy.data.datasets[1].data.push({ x, y: evaluation.testMetric });
  state.charts.loss.update();
  state.charts.accuracy.update();
  const loop = evaluation.loop;
  if (loop) {
    document.getElementById("loop-status").textContent =
      `drive loop: ${loop.periods} periods · ${loop.deadlineMisses} deadline misses · ` +
      `${loop.overRangePeriods} over-range · converter utilization ${(100 * loop.converterUtilization).toFixed(1)} % · ` +
      `compute ${loop.computeMicrosecondsMean.toFixed(1)} µs/period · wake-up p99 ${loop.wakeUpMicrosecondsP99.toFixed(0)} µs`;
  }
  state.updates += 1;
  document.body.dataset.chartUpdates = String(state.updates);
}

async function follow(job) {
  if (state.abort) state.abort.abort();
  state.following = job.id;
  state.abort = new AbortController();
  resetCharts();
  document.getElementById("loop-status").textContent = "";
  document.getElementById("running-title").textContent = `#${job.id} ${job.args.join(" ")}`;
  const cancel = document.getElementById("cancel");
  cancel.hidden = false;
  cancel.onclick = () => api(`/api/v1/jobs/${job.id}/cancel`, { method: "POST" }).catch(showError);
  try {
    const response = await fetch(`/api/v1/jobs/${job.id}/events`, {
      headers: { Authorization: "Bearer " + state.token }, signal: state.abort.signal,
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = (block.match(/^event: (.*)$/m) || [])[1];
        const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
        if (name === "evaluation") addEvaluation(data);
        if (name === "step") {
          document.getElementById("live-status").textContent =
            `step ${data.step} · ${data.forward_passes} passes · loss ${data.loss.toFixed(4)}`;
        }
        if (name === "end") {
          document.getElementById("live-status").textContent = `ended ${data.state}`;
          cancel.hidden = true;
          refresh();
        }
      }
    }
  } catch (error) {
    if (error.name !== "AbortError") showError(error);
  }
}

function showError(error) {
  document.getElementById("submit-result").textContent = "error: " + error.message;
}

function renderBoard(board) {
  const list = document.getElementById("board");
  list.replaceChildren();
  const calibration = board.calibration;
  const rows = [
    ["state", board.state], ["interlock", board.interlock], ["queue", board.hold ? "held: " + board.hold : "running"],
    ["running job", board.running_job ?? "none"], ["board file", board.board_file],
    ["calibration", calibration ? `${calibration.path} (${Math.round(calibration.age_seconds / 3600)} h old)` : "none"],
  ];
  for (const [key, value] of rows) { list.append(text("dt", key), text("dd", String(value))); }
  document.getElementById("release").hidden = !board.hold;
}

function renderQueue(queue) {
  const body = document.querySelector("#queue tbody");
  body.replaceChildren();
  for (const job of queue.queued) {
    const row = document.createElement("tr");
    const cancel = text("button", "cancel");
    cancel.onclick = () => api(`/api/v1/jobs/${job.id}/cancel`, { method: "POST" }).then(refresh, showError);
    const cell = document.createElement("td");
    cell.append(cancel);
    row.append(text("td", job.id), text("td", job.args.join(" "), "command"), text("td", job.priority), text("td", job.submitter), cell);
    body.append(row);
  }
  if (queue.running && state.following !== queue.running.id) follow(queue.running);
}

function renderRuns(runs) {
  const body = document.querySelector("#runs tbody");
  body.replaceChildren();
  for (const run of runs) {
    const row = document.createElement("tr");
    row.dataset.id = run.id;
    const plots = document.createElement("td");
    if (run.kind.endsWith("training") || run.kind === "resume") {
      const show = text("button", "plots");
      show.onclick = () => showPlots(run.id);
      plots.append(show);
    }
    const finished = run.finished_at ? new Date(run.finished_at * 1000).toLocaleString() : "";
    row.append(text("td", run.id), text("td", run.state, "state-" + run.state), text("td", run.args.join(" "), "command"),
      text("td", run.headline ?? run.reason ?? ""), text("td", finished), plots);
    body.append(row);
  }
}

async function showPlots(id) {
  const holder = document.getElementById("run-plots");
  holder.replaceChildren();
  for (const name of ["loss.svg", "accuracy.svg"]) {
    const response = await fetch(`/api/v1/runs/${id}/files/${name}`, { headers: { Authorization: "Bearer " + state.token } });
    if (!response.ok) continue;
    const image = document.createElement("img");
    image.alt = `run ${id} ${name}`;
    image.src = URL.createObjectURL(await response.blob());
    holder.append(image);
  }
}

async function refresh() {
  if (!state.token) return;
  try {
    const [board, queue, runs] = await Promise.all([api("/api/v1/board"), api("/api/v1/queue"), api("/api/v1/runs?limit=50")]);
    renderBoard(board); renderQueue(queue); renderRuns(runs.runs);
    const pill = document.getElementById("connection");
    pill.textContent = "connected"; pill.className = "pill ok";
  } catch (error) {
    const pill = document.getElementById("connection");
    pill.textContent = error.message; pill.className = "pill bad";
  }
}

function submit(args) {
  return api("/api/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ args, submitter: "page" }) })
    .then((answer) => { document.getElementById("submit-result").textContent = `queued job ${answer.id}`; refresh(); }, showError);
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = document.getElementById("token").value.trim();
  localStorage.setItem("ringlab-token", state.token);
  refresh();
});
document.getElementById("submit-calibration").onclick = () => submit(["calibrate"]);
document.getElementById("submit-training").addEventListener("submit", (event) => {
  event.preventDefault();
  submit(["train", "ring", "--task", "digits", "--device-seconds", document.getElementById("device-seconds").value,
    "--seed", document.getElementById("seed").value]);
});
document.getElementById("submit-args").addEventListener("submit", (event) => {
  event.preventDefault();
  let args;
  try { args = JSON.parse(document.getElementById("args").value); } catch (error) { showError(new Error("args must be a JSON array of strings")); return; }
  submit(args);
});
document.getElementById("release").onclick = () => api("/api/v1/queue/release", { method: "POST" }).then(refresh, showError);

state.token = new URLSearchParams(location.hash.slice(1)).get("token") || localStorage.getItem("ringlab-token") || "";
if (location.hash) history.replaceState(null, "", location.pathname);
document.getElementById("token").value = state.token;
resetCharts();
refresh();
setInterval(refresh, 2000);
