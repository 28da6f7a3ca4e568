// @ts-check
// Image grids (kind "images"): small grey or colour images with their labels, drawn with sharp pixels.
import { chartHead, colourImages } from './plot-common.js';

/** @typedef {import('./plot-common.js').ImagesPlot} ImagesPlot */

const UNDEFINED_PIXEL = [255, 0, 255];
const GRID_COLOR = '#8c8c8c';

/** Where the cells of an image grid go, for a chart of the given size. */
/**
 * @param {ImagesPlot} plot
 * @param {number} width
 * @param {number} height
 */
function imageGridLayout(plot, width, height) {
  const n = plot.images.length;
  const cols = Math.max(1, Math.min(plot.cols || n, n));
  const rows = Math.max(1, Math.ceil(n / cols));
  const labelH = plot.images.some((img) => img.label !== '') ? 14 : 0;
  const gap = 6;
  const top = chartHead(plot.title, [], width).top - 10;
  const pad = 8;
  const scale = Math.max(0.1, Math.min(
    ((width - 2 * pad) / cols - gap) / plot.width,
    ((height - top - pad) / rows - gap - labelH) / plot.height,
  ));
  const imgW = plot.width * scale;
  const imgH = plot.height * scale;
  const cellW = imgW + gap;
  const cellH = imgH + gap + labelH;
  // Centred in the free area below the title.
  return {
    cols, imgW, imgH, cellW, cellH,
    left: (width - cols * cellW) / 2 + gap / 2,
    top: top + Math.max(0, (height - top - pad - rows * cellH) / 2) + gap / 2,
  };
}

/**
 * @param {ImagesPlot} plot
 * @param {number} width chart width in pixels (for the title's lines)
 */
export function imagesOption(plot, width) {
  const [lo, hi] = plot.value_range;
  const span = hi - lo || 1;
  // The canvases of this frame, drawn at the scale last asked for. ECharts draws images with smoothing, so each
  // image is enlarged here by an integer factor with sharp pixels and ECharts only scales it by less than 2.
  const cache = new Map();
  const canvasFor = (index, factor) => {
    const key = `${index}@${factor}`;
    if (!cache.has(key)) cache.set(key, pixelCanvas(plot, plot.images[index].pixels, lo, span, factor));
    return cache.get(key);
  };
  return {
    title: [chartHead(plot.title, [], width).title],
    tooltip: {
      trigger: 'item',
      renderMode: 'richText',
      formatter: (p) => plot.images[p.dataIndex].label || `#${p.dataIndex}`,
    },
    series: [{
      id: 'images',
      type: 'custom',
      coordinateSystem: 'none',
      progressive: 0,
      emphasis: { disabled: true },
      data: plot.images.map((_, i) => [i]),
      renderItem(params, api) {
        const g = imageGridLayout(plot, api.getWidth(), api.getHeight());
        const i = params.dataIndex;
        const x = g.left + (i % g.cols) * g.cellW;
        const y = g.top + Math.floor(i / g.cols) * g.cellH;
        const factor = Math.max(1, Math.ceil((g.imgW * api.getDevicePixelRatio()) / plot.width));
        /** @type {object[]} */
        const children = [
          { type: 'image', style: { image: canvasFor(i, factor), x, y, width: g.imgW, height: g.imgH } },
        ];
        if (plot.grid) children.push(...gridLines(plot, x, y, g.imgW, g.imgH));
        children.push({
          type: 'rect',
          shape: { x: x - 0.5, y: y - 0.5, width: g.imgW + 1, height: g.imgH + 1 },
          style: { fill: null, stroke: '#9a9a9a', lineWidth: 1 },
        });
        const label = plot.images[i].label;
        if (label !== '') {
          children.push({
            type: 'text',
            style: {
              text: label, x: x + g.imgW / 2, y: y + g.imgH + 2, align: 'center', verticalAlign: 'top',
              // An explicit line height: zrender otherwise measures it as the width of a CJK glyph, which is
              // far off where no CJK font is installed (labels then overlap the image).
              fontSize: 11, lineHeight: 14, fill: '#333', width: g.cellW, overflow: 'truncate',
            },
          });
        }
        return { type: 'group', children };
      },
    }],
  };
}

/**
 * Lines between the pixels of one image (`grid`): every unit of a small pattern in its own cell. Mid grey, so
 * that they show on black and on white cells alike.
 * @param {ImagesPlot} plot
 * @param {number} x
 * @param {number} y
 * @param {number} w
 * @param {number} h
 */
function gridLines(plot, x, y, w, h) {
  const style = { stroke: GRID_COLOR, lineWidth: 1 };
  const lines = [];
  for (let c = 1; c < plot.width; c++) {
    const at = x + (c * w) / plot.width;
    lines.push({ type: 'line', shape: { x1: at, y1: y, x2: at, y2: y + h }, style });
  }
  for (let r = 1; r < plot.height; r++) {
    const at = y + (r * h) / plot.height;
    lines.push({ type: 'line', shape: { x1: x, y1: at, x2: x + w, y2: at }, style });
  }
  return lines;
}

/**
 * One image as a canvas enlarged `factor` times: grey from black (lo) to white (lo + span), or for colour images
 * each channel from 0 (lo) to 255 (lo + span). A value range given high to low (span < 0) draws high values
 * black: ink on paper.
 */
/**
 * @param {ImagesPlot} plot
 * @param {number[]} pixels
 * @param {number} lo
 * @param {number} span
 * @param {number} factor
 */
function pixelCanvas(plot, pixels, lo, span, factor) {
  const { width, height } = plot;
  const plane = width * height;
  const channels = colourImages(plot) ? 3 : 1;
  const small = document.createElement('canvas');
  small.width = width;
  small.height = height;
  const image = new ImageData(width, height);
  const level = (v) => Math.round(255 * Math.min(1, Math.max(0, (v - lo) / span)));
  for (let k = 0; k < plane; k++) {
    let rgb = [];
    for (let c = 0; c < channels; c++) rgb.push(pixels[c * plane + k]);
    if (rgb.every(Number.isFinite)) {
      rgb = rgb.map(level);
      if (channels === 1) rgb = [rgb[0], rgb[0], rgb[0]];
    } else {
      rgb = UNDEFINED_PIXEL;
    }
    image.data.set(rgb, 4 * k);
    image.data[4 * k + 3] = 255;
  }
  context2d(small).putImageData(image, 0, 0);
  if (factor === 1) return small;
  const big = document.createElement('canvas');
  big.width = width * factor;
  big.height = height * factor;
  const ctx = context2d(big);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, big.width, big.height);
  return big;
}

/**
 * The 2-D context of a canvas made here (never null: a fresh canvas has no other context yet).
 * @param {HTMLCanvasElement} canvas
 */
function context2d(canvas) {
  return /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
}
