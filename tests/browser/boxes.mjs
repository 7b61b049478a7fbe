// Lists an ISO BMFF file's top-level boxes, as codem-isoboxer (dash.js's
// box parser) reads them, for tests/single_file.rs: one JSON line
// {"size": N, "boxes": [{"type", "offset", "size"}], "sidx": [...]}, each
// sidx with its offset, first_offset and references.
//
// Usage: node boxes.mjs FILE
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const ISOBoxer = require("codem-isoboxer");

const file = process.argv[2];
const data = readFileSync(file);
const buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
const parsed = ISOBoxer.parseBuffer(buf);
const boxes = parsed.boxes.map((b) => ({ type: b.type, offset: b._offset, size: b.size }));
const sidx = parsed.boxes
  .filter((b) => b.type === "sidx")
  .map((b) => ({
    offset: b._offset,
    size: b.size,
    timescale: b.timescale,
    first_offset: Number(b.first_offset),
    references: b.references.map((r) => ({
      type: r.reference_type,
      size: r.referenced_size,
      duration: r.subsegment_duration,
      starts_with_sap: r.starts_with_SAP,
    })),
  }));
console.log(JSON.stringify({ size: data.byteLength, boxes, sidx }));
