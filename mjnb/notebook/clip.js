// The clip player (mjnb.notebook.clip.ClipPlayer): plays a video task's MP4s inline.
// An anywidget ESM module with no dependencies.
//
// Model traits: posters (one small JPEG data URL per clip, shown until the clip is
// here), width (displayed width of one clip, px), selected (0-based clip the card's
// Extend / Upscale buttons act on; a click on a clip selects it) and playing (how many
// clips this view has loaded: the browser test reads it). The MP4 bytes are NOT a trait:
// Python sends them as binary buffers of a custom message ({event: "clips"}) when a view
// asks ({event: "ready"}), and they become Blob URLs. So a saved notebook's widget state
// holds the posters only, never the clips.

function el(tag, className, props = {}) {
  const node = document.createElement(tag);
  node.className = className;
  return Object.assign(node, props);
}

function bytesOf(buffer) {
  // a DataView / ArrayBuffer / typed array, whatever the front end hands over
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function render({ model, el: root }) {
  const box = el("div", "mjnb-clip");
  root.appendChild(box);
  let urls = [];
  let version = null;

  function draw() {
    const posters = model.get("posters");
    const width = model.get("width");
    const selected = model.get("selected");
    box.replaceChildren();
    posters.forEach((poster, i) => {
      const cell = el("div", "mjnb-clip-cell" + (i === selected && posters.length > 1 ? " mjnb-selected" : ""));
      if (urls[i]) {
        const video = el("video", "mjnb-clip-video", {
          src: urls[i], poster, loop: true, muted: true, autoplay: true, controls: true,
          playsInline: true, width,
        });
        video.defaultMuted = true; // muted as an attribute too, so autoplay is allowed
        video.setAttribute("muted", "");
        video.addEventListener("click", () => { model.set("selected", i); model.save_changes(); });
        cell.appendChild(video);
        const played = video.play();
        if (played && played.catch) played.catch(() => {}); // autoplay refused: controls stay
      } else {
        cell.appendChild(el("img", "mjnb-clip-poster", { src: poster, width, alt: `clip ${i + 1}` }));
      }
      if (posters.length > 1) cell.appendChild(el("div", "mjnb-clip-label", { textContent: `clip ${i + 1}` }));
      box.appendChild(cell);
    });
  }

  model.on("msg:custom", (msg, buffers) => {
    if (!msg || msg.event !== "clips" || msg.version === version) return;
    version = msg.version;
    urls.forEach((url) => URL.revokeObjectURL(url));
    urls = (buffers || []).map((b) => URL.createObjectURL(new Blob([bytesOf(b)], { type: "video/mp4" })));
    draw();
    model.set("playing", urls.length);
    model.save_changes();
  });
  model.on("change:posters", draw);
  model.on("change:width", draw);
  model.on("change:selected", () => {
    // only the highlight moves: rebuilding the videos would restart them
    const selected = model.get("selected");
    Array.from(box.children).forEach((cell, i) => cell.classList.toggle("mjnb-selected", i === selected && box.children.length > 1));
  });
  draw();
  model.send({ event: "ready" });
  return () => urls.forEach((url) => URL.revokeObjectURL(url));
}

export default { render };
