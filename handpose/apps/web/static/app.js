// Progressive enhancement of the upload form (drag and drop, no page reload) and the live camera mode.
// Without this script the form is a plain multipart POST that returns the result page.
"use strict";

const form = document.getElementById("upload-form");
const input = document.getElementById("image");
const drop = document.getElementById("drop");
const result = document.getElementById("result");
const maxBytes = Number(form.dataset.maxBytes);

function showError(message) {
  const box = document.createElement("div");
  box.className = "error";
  box.id = "error";
  box.setAttribute("role", "alert");
  const strong = document.createElement("strong");
  strong.textContent = "That upload could not be used. ";
  box.append(strong, message);
  result.replaceChildren(box);
}

function mb(n) { return n >= 100000 ? (n / 1e6).toFixed(1) + " MB" : Math.round(n / 1e3) + " kB"; }

async function upload(file) {
  if (!file) { showError("Choose a JPG or PNG photo first."); return; }
  if (file.size > maxBytes) {  // spare the upload: the server would answer 413
    showError(`${file.name}: the file is ${mb(file.size)}; the limit is ${mb(maxBytes)}.`);
    return;
  }
  const body = new FormData();
  body.append("image", file, file.name);
  form.querySelector("button").disabled = true;
  result.classList.add("busy");
  try {
    const response = await fetch(form.action, { method: "POST", body, headers: { "X-Fragment": "1" } });
    const type = response.headers.get("Content-Type") || "";
    if (type.startsWith("text/html")) {
      result.innerHTML = await response.text();  // the server's result (or error) block, already escaped
    } else if (response.status === 413) {
      showError(`${file.name} is over the server's limit of ${mb(maxBytes)}.`);
    } else {
      showError(`The server answered ${response.status} ${response.statusText}.`);
    }
  } catch (err) {
    showError(`The server could not be reached (${err.message}).`);
  } finally {
    form.querySelector("button").disabled = false;
    result.classList.remove("busy");
  }
}

form.addEventListener("submit", (event) => { event.preventDefault(); upload(input.files[0]); });
input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); });
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const files = event.dataTransfer.files;
  if (files.length) { input.files = files; upload(files[0]); }
});

// ---- live camera ------------------------------------------------------------------------------------
const toggle = document.getElementById("camera-toggle");
const stage = document.getElementById("stage");
const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const status = document.getElementById("camera-status");
const grab = document.createElement("canvas");  // the frame sent to the server, at most SEND_WIDTH wide
const SEND_WIDTH = 480, FRAME_INTERVAL_MS = 250;  // a few frames a second: one in flight at a time
let stream = null, skeleton = null, frames = 0, timer = null;

toggle.hidden = false;
toggle.addEventListener("click", () => (stream ? stopCamera() : startCamera()));

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status.textContent = "This browser gives no camera here (a camera needs https or localhost).";
    return;
  }
  try {
    skeleton = skeleton || (await (await fetch("api/model")).json()).skeleton;
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) {
    status.textContent = `No camera: ${err.message}`;
    stream = null;
    return;
  }
  video.srcObject = stream;
  await video.play();
  stage.hidden = false;
  toggle.textContent = "Stop the camera";
  frames = 0;
  sendFrame();
}

function stopCamera() {
  clearTimeout(timer);
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  stage.hidden = true;
  toggle.textContent = "Start the camera";
}

async function sendFrame() {
  if (!stream) return;
  const started = performance.now();
  const w = video.videoWidth, h = video.videoHeight;
  if (w && h) {
    const s = Math.min(1, SEND_WIDTH / w);
    grab.width = Math.round(w * s);
    grab.height = Math.round(h * s);
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    try {
      const blob = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.8));
      const response = await fetch("api/predict?name=camera.jpg", {
        method: "POST", body: blob, headers: { "Content-Type": "image/jpeg" },
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || response.statusText);
      frames += 1;
      const hands = data.images[0].hands;
      drawHands(hands, w, h, 1 / s);
      status.textContent = `frames: ${frames}, ${Math.round(performance.now() - started)} ms a frame, ` +
        (hands.length ? hands.map((hd) => `${handLabel(hd)}, hand score ${hd.score.toFixed(2)}`).join("; ") : "no hand");
    } catch (err) {
      status.textContent = `frame not processed: ${err.message}`;
    }
  }
  timer = setTimeout(sendFrame, Math.max(0, FRAME_INTERVAL_MS - (performance.now() - started)));
}

// "right hand 93% | Thumb_Up 97%": the side and its probability ("hand" when unknown), then the gesture.
function handLabel(hand) {
  const side = hand.handedness ? `${hand.handedness} hand ${Math.round(100 * hand.handedness_score)}%` : "hand";
  return hand.gesture ? `${side} | ${hand.gesture} ${Math.round(100 * hand.gesture_score)}%` : side;
}

function drawHands(hands, w, h, scale) {
  overlay.width = w;
  overlay.height = h;
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const r = Math.max(3, w / 160);
  for (const hand of hands) {
    const p = hand.keypoints.map(([x, y]) => [x * scale, y * scale]);
    ctx.lineWidth = r * 0.8;
    skeleton.bones.forEach(([i, j], b) => {
      ctx.strokeStyle = skeleton.bone_colors[b];
      ctx.beginPath(); ctx.moveTo(...p[i]); ctx.lineTo(...p[j]); ctx.stroke();
    });
    p.forEach(([x, y], i) => {
      ctx.fillStyle = skeleton.joint_colors[i];
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
    });
    const [bx, by] = [hand.box[0] * scale, hand.box[1] * scale];
    ctx.font = `${Math.round(r * 4)}px system-ui, sans-serif`;
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#000";
    ctx.fillStyle = "#ff0";
    ctx.strokeText(handLabel(hand), bx, Math.max(by - r, r * 4));
    ctx.fillText(handLabel(hand), bx, Math.max(by - r, r * 4));
  }
}
