// The interactive 3D view of viewer.py's pages: plain JavaScript on a canvas, no library, no network.
// viewer.py inlines this file and the data (window.POSE_DATA) into one self-contained HTML page.
"use strict";
(function () {
  const data = window.POSE_DATA;
  const SIDE = { left: "#1f77b4", right: "#d62728", centre: "#303030" };
  const SEEN = 0.5; // visibility from which a joint counts as seen, as in the PNG
  const body = document.body;
  const errors = [];
  window.addEventListener("error", (event) => {
    errors.push(String(event.message));
    body.dataset.errors = errors.join(" | ");
  });

  // ---- the embedded arrays (little-endian, base64) ----
  function decode(entry) {
    const bytes = Uint8Array.from(atob(entry.b64), (c) => c.charCodeAt(0));
    const types = { int16: Int16Array, int32: Int32Array, uint16: Uint16Array, uint8: Uint8Array };
    return new types[entry.dtype](bytes.buffer);
  }
  const J = data.joint_names.length;
  const frameOf = decode(data.arrays.frame), ids = decode(data.arrays.id), pixels = decode(data.arrays.pixel);
  const visibility = decode(data.arrays.visibility), mm = decode(data.arrays.mm);
  const pelvis = decode(data.arrays.pelvis), placed = decode(data.arrays.placed), truth = decode(data.arrays.truth);
  const TRUTH = "#8c8c8c"; // ground truth beside a prediction: grey
  const people = []; // people[frame] = list of person indices
  for (let f = 0; f < data.frames; f++) people.push([]);
  for (let p = 0; p < frameOf.length; p++) people[frameOf[p]].push(p);

  function joints3d(p) { // camera-space mm: the root-relative joints plus the placed pelvis (where solved)
    const out = [];
    for (let j = 0; j < J; j++) {
      const k = (p * J + j) * 3;
      const shift = placed[p] ? [pelvis[p * 3] / 10, pelvis[p * 3 + 1] / 10, pelvis[p * 3 + 2] / 10] : [0, 0, 0];
      out.push([mm[k] / 10 + shift[0], mm[k + 1] / 10 + shift[1], mm[k + 2] / 10 + shift[2]]);
    }
    return out;
  }
  function joints2d(p) { // pixels at depth 0: the 2D-in-3D view
    const out = [];
    for (let j = 0; j < J; j++) out.push([pixels[(p * J + j) * 2] / 100, pixels[(p * J + j) * 2 + 1] / 100, 0]);
    return out;
  }
  const seen = (p, j) => visibility[p * J + j] / 1000 >= SEEN;
  const side = (name) => name.startsWith("left_") ? "left" : name.startsWith("right_") ? "right" : "centre";

  // ---- the scene's frame of reference: where the floor is, what the view turns about ----
  function bounds(points) {
    const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
    for (const q of points) for (let i = 0; i < 3; i++) { lo[i] = Math.min(lo[i], q[i]); hi[i] = Math.max(hi[i], q[i]); }
    return { lo, hi, centre: lo.map((v, i) => (v + hi[i]) / 2), size: Math.max(...hi.map((v, i) => v - lo[i]), 1) };
  }
  const all3d = [], all2d = [];
  for (let p = 0; p < frameOf.length; p++) { all3d.push(...joints3d(p)); all2d.push(...joints2d(p)); }
  const scene3d = bounds(all3d.length ? all3d : [[0, 0, 0]]), scene2d = bounds(all2d.length ? all2d : [[0, 0, 0]]);
  const floorY = scene3d.hi[1]; // y points down: the floor is under the lowest joint
  const trajectories = {}; // the pelvis of each person id on the floor
  for (let p = 0; p < frameOf.length; p++) {
    if (!placed[p]) continue;
    (trajectories[ids[p]] = trajectories[ids[p]] || []).push([pelvis[p * 3] / 10, floorY, pelvis[p * 3 + 2] / 10]);
  }

  // ---- the view: orbit (drag), zoom (wheel), frames (slider, keys, play) ----
  const canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
  const slider = document.getElementById("frame"), label = document.getElementById("label");
  const play = document.getElementById("play"), tip = document.getElementById("tip");
  const state = { yaw: 0.5, pitch: -0.25, zoom: 1, frame: 0, playing: false };
  const hash = /frame=(\d+)/.exec(location.hash);
  state.frame = hash ? Math.min(+hash[1], data.frames - 1) : 0;
  slider.max = String(data.frames - 1);
  slider.value = String(state.frame);
  if (data.frames < 2) document.getElementById("controls").style.display = "none";

  function project(q, box, viewport) {
    const d = [q[0] - box.centre[0], q[1] - box.centre[1], q[2] - box.centre[2]];
    const cy = Math.cos(state.yaw), sy = Math.sin(state.yaw), cp = Math.cos(state.pitch), sp = Math.sin(state.pitch);
    const x = cy * d[0] - sy * d[2], z1 = sy * d[0] + cy * d[2];
    const y = cp * d[1] - sp * z1, z = sp * d[1] + cp * z1;
    const distance = 2.5 * box.size, scale = state.zoom * 0.9 * Math.min(viewport.w, viewport.h) * distance / box.size;
    const w = distance + z;
    return [viewport.x + viewport.w / 2 + scale * x / w, viewport.y + viewport.h / 2 + scale * y / w, w];
  }

  let hoverTargets = [];
  function drawSkeleton(points, p, box, viewport, label3d) {
    const screen = points.map((q) => project(q, box, viewport));
    for (let j = 0; j < J; j++) {
      const parent = data.parents[j];
      if (parent < 0) continue;
      const both = seen(p, j) && seen(p, parent);
      ctx.strokeStyle = truth[p] ? TRUTH : SIDE[side(data.joint_names[j])];
      ctx.lineWidth = both ? 2.5 : 1.2;
      ctx.setLineDash(both ? [] : [3, 3]);
      ctx.beginPath(); ctx.moveTo(screen[parent][0], screen[parent][1]); ctx.lineTo(screen[j][0], screen[j][1]); ctx.stroke();
    }
    ctx.setLineDash([]);
    for (let j = 0; j < J; j++) {
      ctx.beginPath(); ctx.arc(screen[j][0], screen[j][1], 3.2, 0, 2 * Math.PI);
      ctx.fillStyle = ctx.strokeStyle = truth[p] ? TRUTH : SIDE[side(data.joint_names[j])];
      if (seen(p, j)) ctx.fill(); else { ctx.fillStyle = "#ffffff"; ctx.fill(); ctx.lineWidth = 1.2; ctx.stroke(); }
      hoverTargets.push({ x: screen[j][0], y: screen[j][1], text: `${truth[p] ? "truth" : "id " + ids[p]} ${data.joint_names[j]}: ` +
        (label3d ? `${points[j].map((v) => v.toFixed(0)).join(", ")} mm` : `${points[j][0].toFixed(1)}, ${points[j][1].toFixed(1)} px`) });
    }
  }

  function drawFloor(box, viewport) {
    ctx.strokeStyle = "#d0d0d0"; ctx.lineWidth = 1;
    const step = 500, reach = Math.ceil(box.size / step) + 2;
    const cx = Math.round(box.centre[0] / step) * step, cz = Math.round(box.centre[2] / step) * step;
    for (let k = -reach; k <= reach; k++) {
      for (const [a, b] of [[[cx + k * step, floorY, cz - reach * step], [cx + k * step, floorY, cz + reach * step]],
                            [[cx - reach * step, floorY, cz + k * step], [cx + reach * step, floorY, cz + k * step]]]) {
        const s = project(a, box, viewport), e = project(b, box, viewport);
        if (s[2] <= 0 || e[2] <= 0) continue;
        ctx.beginPath(); ctx.moveTo(s[0], s[1]); ctx.lineTo(e[0], e[1]); ctx.stroke();
      }
    }
    ctx.strokeStyle = "#8a8a8a"; ctx.lineWidth = 1.5;
    for (const path of Object.values(trajectories)) {
      ctx.beginPath();
      path.forEach((q, i) => { const s = project(q, box, viewport); i ? ctx.lineTo(s[0], s[1]) : ctx.moveTo(s[0], s[1]); });
      ctx.stroke();
    }
    const eye = project([0, 0, 0], box, viewport); // the camera, at the origin of camera space
    if (eye[2] > 0) {
      ctx.fillStyle = "#404040"; ctx.fillRect(eye[0] - 6, eye[1] - 4, 12, 8);
      ctx.fillText("camera", eye[0] + 8, eye[1] + 4);
    }
  }

  function inside(viewport, paint) { // each panel draws only within itself
    ctx.save();
    ctx.beginPath(); ctx.rect(viewport.x, viewport.y, viewport.w, viewport.h); ctx.clip();
    paint();
    ctx.restore();
  }

  function draw() {
    const width = canvas.clientWidth, height = canvas.clientHeight;
    canvas.width = width; canvas.height = height;
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, width, height);
    hoverTargets = [];
    const left = { x: 0, y: 24, w: width / 2, h: height - 24 }, right = { x: width / 2, y: 24, w: width / 2, h: height - 24 };
    ctx.fillStyle = "#303030"; ctx.font = "14px sans-serif";
    ctx.fillText("2D-in-3D: the 2D input at depth 0 (pixels)", 10, 16);
    ctx.fillText("3D (camera space, mm)", width / 2 + 10, 16);
    const shown = people[state.frame];
    inside(left, () => { for (const p of shown) if (!truth[p]) drawSkeleton(joints2d(p), p, scene2d, left, false); });
    inside(right, () => {
      drawFloor(scene3d, right);
      for (const p of shown) drawSkeleton(joints3d(p), p, scene3d, right, true);
    });
    if (!shown.length) { ctx.fillStyle = "#a00000"; ctx.fillText("no person in this frame", width / 2 - 80, height / 2); }
    label.textContent = data.frames > 1 ? `frame ${state.frame + 1} of ${data.frames} at ${data.fps} fps` : "";
    report(shown.filter((p) => !truth[p]).length);
  }

  function report(skeletons) { // what a test reads back: how much was drawn, and a checksum of the picture
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let drawn = 0, hash = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i] !== 255 || pixels[i + 1] !== 255 || pixels[i + 2] !== 255) drawn++;
      hash = (hash * 31 + pixels[i] + 7 * pixels[i + 1] + 13 * pixels[i + 2]) >>> 0;
    }
    Object.assign(body.dataset, { frame: state.frame, skeletons, drawn, hash });
  }

  function showFrame(f) { state.frame = Math.max(0, Math.min(data.frames - 1, f)); slider.value = String(state.frame); draw(); }
  slider.addEventListener("input", () => showFrame(+slider.value));
  play.addEventListener("click", () => { state.playing = !state.playing; play.textContent = state.playing ? "pause" : "play"; tick(); });
  function tick() {
    if (!state.playing) return;
    showFrame(state.frame + 1 >= data.frames ? 0 : state.frame + 1);
    setTimeout(tick, 1000 / data.fps);
  }
  window.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") showFrame(state.frame + 1);
    else if (event.key === "ArrowLeft") showFrame(state.frame - 1);
    else if (event.key === " ") { play.click(); event.preventDefault(); }
  });
  let dragging = null;
  canvas.addEventListener("mousedown", (event) => { dragging = [event.clientX, event.clientY]; });
  window.addEventListener("mouseup", () => { dragging = null; });
  canvas.addEventListener("mousemove", (event) => {
    if (dragging) {
      state.yaw += (event.clientX - dragging[0]) * 0.01;
      state.pitch = Math.max(-1.5, Math.min(1.5, state.pitch + (event.clientY - dragging[1]) * 0.01));
      dragging = [event.clientX, event.clientY];
      draw();
      return;
    }
    const box = canvas.getBoundingClientRect(), x = event.clientX - box.left, y = event.clientY - box.top;
    const near = hoverTargets.filter((t) => Math.hypot(t.x - x, t.y - y) < 7)[0];
    tip.style.display = near ? "block" : "none";
    if (near) { tip.textContent = near.text; tip.style.left = `${event.clientX + 12}px`; tip.style.top = `${event.clientY + 12}px`; }
  });
  canvas.addEventListener("wheel", (event) => {
    state.zoom = Math.max(0.2, Math.min(8, state.zoom * Math.exp(-event.deltaY * 0.001)));
    event.preventDefault();
    draw();
  }, { passive: false });
  window.addEventListener("resize", draw);

  // Frames without a person, marked under the slider.
  const marks = document.getElementById("marks"), mctx = marks.getContext("2d");
  marks.width = marks.clientWidth; marks.height = 6;
  mctx.fillStyle = "#c03030";
  for (let f = 0; f < data.frames; f++) {
    if (!people[f].length) mctx.fillRect(Math.floor(f * marks.width / data.frames), 0, Math.max(1, marks.width / data.frames), 6);
  }
  draw();
})();
