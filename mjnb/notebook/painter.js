// The mask painter (mjnb.notebook.painter.MaskPainter): paint over an image where
// Midjourney should repaint it. An anywidget ESM module with no dependencies.
//
// Model traits: image (data URL or URL shown underneath), width and height (the full
// image's pixels: the mask is made at that size), brush_size (diameter in screen pixels),
// tool ("brush" | "rect"), max_display (largest displayed width, px), status (a line of
// text from Python) and mask (PNG bytes, white = repaint, set on Submit). Submit sets
// mask, saves it, then sends {event: "submit"} so Python reads the mask it just got.
//
// The painting is kept as a list of operations (stroke, rect, invert, clear) replayed
// onto an offscreen canvas of the image's size: undo pops one, and no pixel snapshots
// are held. Painted pixels are opaque white on transparent; the visible canvas shows
// them tinted, half transparent, over the image.

const TINT = "rgb(255, 40, 110)";

function el(tag, className, props = {}) {
  const node = document.createElement(tag);
  node.className = className;
  return Object.assign(node, props);
}

// Draw one operation on a 2-D context whose canvas is the image's size.
function apply(ctx, op, width, height) {
  ctx.save();
  if (op.kind === "stroke") {
    ctx.fillStyle = ctx.strokeStyle = "#fff";
    ctx.lineWidth = op.size;
    ctx.lineCap = ctx.lineJoin = "round";
    const [x0, y0] = op.points;
    if (op.points.length === 2) {
      ctx.beginPath();
      ctx.arc(x0, y0, op.size / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      for (let i = 2; i < op.points.length; i += 2) ctx.lineTo(op.points[i], op.points[i + 1]);
      ctx.stroke();
    }
  } else if (op.kind === "rect") {
    ctx.fillStyle = "#fff";
    ctx.fillRect(op.x, op.y, op.w, op.h);
  } else if (op.kind === "invert") {
    ctx.globalCompositeOperation = "xor"; // painted <-> unpainted
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
  } else if (op.kind === "clear") {
    ctx.clearRect(0, 0, width, height);
  }
  ctx.restore();
}

function normalRect(a, b) {
  return { kind: "rect", x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]),
    w: Math.abs(b[0] - a[0]), h: Math.abs(b[1] - a[1]) };
}

function render({ model, el: root }) {
  const width = model.get("width");
  const height = model.get("height");
  const ops = [];
  let current = null; // the stroke or rectangle being drawn
  let start = null;

  root.classList.add("mjnb-painter");
  const tools = el("div", "mjnb-painter-tools");
  const stage = el("div", "mjnb-painter-stage");
  const image = el("img", "mjnb-painter-image", { src: model.get("image"), draggable: false });
  const view = el("canvas", "mjnb-painter-canvas", { width, height });
  const mask = el("canvas", "", { width, height }); // offscreen: the mask itself
  const status = el("div", "mjnb-painter-status");
  const mctx = mask.getContext("2d");
  const vctx = view.getContext("2d");
  stage.append(image, view);
  root.append(tools, stage, status);

  const fitWidth = () => {
    stage.style.width = `${Math.min(width, model.get("max_display"))}px`;
  };
  fitWidth();

  // the visible canvas: the mask tinted, plus the rectangle being dragged
  function show() {
    vctx.clearRect(0, 0, width, height);
    vctx.drawImage(mask, 0, 0);
    if (current && current.kind === "rect") apply(vctx, current, width, height);
    vctx.globalCompositeOperation = "source-in";
    vctx.fillStyle = TINT;
    vctx.fillRect(0, 0, width, height);
    vctx.globalCompositeOperation = "source-over";
  }
  function replay() {
    mctx.clearRect(0, 0, width, height);
    for (const op of ops) apply(mctx, op, width, height);
    show();
    undo.disabled = ops.length === 0;
  }

  function button(label, title, onClick, className = "") {
    const b = el("button", `mjnb-painter-button ${className}`, { textContent: label, title });
    b.type = "button";
    b.addEventListener("click", onClick);
    tools.append(b);
    return b;
  }
  const save = (name, value) => { model.set(name, value); model.save_changes(); };
  const brush = button("Brush", "Paint with a round brush", () => save("tool", "brush"),
    "mjnb-painter-brush");
  const rect = button("Rectangle", "Drag a rectangle", () => save("tool", "rect"),
    "mjnb-painter-rect");
  const size = el("input", "mjnb-painter-size",
    { type: "range", min: 2, max: 200, title: "Brush size (screen pixels)" });
  size.addEventListener("input", () => save("brush_size", Number(size.value)));
  tools.append(size);
  const step = (op) => () => { if (op) ops.push(op); else ops.pop(); replay(); };
  const undo = button("Undo", "Undo the last step", step(null), "mjnb-painter-undo");
  button("Clear", "Remove all paint", step({ kind: "clear" }), "mjnb-painter-clear");
  button("Invert", "Swap painted and unpainted", step({ kind: "invert" }), "mjnb-painter-invert");
  const submit = button("Submit", "Send the mask (white = repaint)", submitMask,
    "mjnb-painter-submit");

  function syncTools() {
    const tool = model.get("tool");
    brush.classList.toggle("mjnb-active", tool === "brush");
    rect.classList.toggle("mjnb-active", tool === "rect");
    size.value = String(model.get("brush_size"));
    size.disabled = tool !== "brush";
  }
  syncTools();
  status.textContent = model.get("status");

  // screen position -> image pixels
  function at(event) {
    const box = view.getBoundingClientRect();
    return [(event.clientX - box.left) * (width / box.width),
      (event.clientY - box.top) * (height / box.height)];
  }
  view.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    view.setPointerCapture(event.pointerId);
    start = at(event);
    if (model.get("tool") === "rect") {
      current = normalRect(start, start);
    } else {
      const scale = width / view.getBoundingClientRect().width;
      current = { kind: "stroke", size: model.get("brush_size") * scale, points: [...start] };
      apply(mctx, current, width, height);
    }
    show();
  });
  view.addEventListener("pointermove", (event) => {
    if (!current) return;
    const point = at(event);
    if (current.kind === "rect") {
      current = normalRect(start, point);
    } else {
      const n = current.points.length;
      const last = current.points.slice(n - 2);
      const segment = { ...current, points: [...last, ...point] };
      current.points.push(...point);
      apply(mctx, segment, width, height);
    }
    show();
  });
  const finish = () => {
    if (!current) return;
    if (current.kind === "stroke" || (current.w >= 1 && current.h >= 1)) ops.push(current);
    current = null;
    replay();
  };
  view.addEventListener("pointerup", finish);
  view.addEventListener("pointercancel", finish);

  // the mask at full resolution: black, with the painted pixels white
  async function submitMask() {
    submit.disabled = true;
    status.textContent = "Sending the mask…";
    const out = el("canvas", "", { width, height });
    const octx = out.getContext("2d");
    octx.fillStyle = "#000";
    octx.fillRect(0, 0, width, height);
    octx.drawImage(mask, 0, 0);
    const blob = await new Promise((resolve) => out.toBlob(resolve, "image/png"));
    model.set("mask", new DataView(await blob.arrayBuffer()));
    model.save_changes();
    model.send({ event: "submit" });
    submit.disabled = false;
  }

  const onTool = () => syncTools();
  const onStatus = () => { status.textContent = model.get("status"); };
  const onImage = () => { image.src = model.get("image"); };
  model.on("change:tool", onTool);
  model.on("change:brush_size", onTool);
  model.on("change:status", onStatus);
  model.on("change:image", onImage);
  model.on("change:max_display", fitWidth);
  replay();
  return () => {
    model.off("change:tool", onTool);
    model.off("change:brush_size", onTool);
    model.off("change:status", onStatus);
    model.off("change:image", onImage);
    model.off("change:max_display", fitWidth);
  };
}

export default { render };
