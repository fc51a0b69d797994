// The floorplan from /floorplan.geojson (local metres, x east, y north): levels, zones
// with their area and label point, readers and doors.

function ringArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    a += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]);
  }
  return Math.abs(a) / 2;
}

function polygonsOf(geometry) {
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

function labelPoint(polygons) {
  // The centre of the largest polygon's bounding box: good enough for rooms, which are
  // near-rectangular; the label is clipped to nothing when it does not fit.
  let best = null;
  for (const rings of polygons) {
    const area = ringArea(rings[0]);
    if (!best || area > best.area) best = { area, ring: rings[0] };
  }
  const xs = best.ring.map((p) => p[0]);
  const ys = best.ring.map((p) => p[1]);
  return {
    x: (Math.min(...xs) + Math.max(...xs)) / 2,
    y: (Math.min(...ys) + Math.max(...ys)) / 2,
    w: Math.max(...xs) - Math.min(...xs),
    h: Math.max(...ys) - Math.min(...ys),
  };
}

export class Floorplan {
  constructor(geojson) {
    const header = geojson.sts || {};
    this.site = header.site || {};
    this.levels = [...(header.levels || [])].sort((a, b) => a.ordinal - b.ordinal);
    this.zones = new Map();
    this.readers = [];
    this.openings = [];
    for (const f of geojson.features) {
      const p = f.properties;
      if (p.feature === "zone") {
        const polygons = polygonsOf(f.geometry);
        const area = polygons.reduce(
          (sum, rings) => sum + ringArea(rings[0]) - rings.slice(1).reduce((h, r) => h + ringArea(r), 0),
          0,
        );
        this.zones.set(f.id, { id: f.id, name: p.name || f.id, kind: p.kind, level: p.level, polygons, area, label: labelPoint(polygons) });
      } else if (p.feature === "reader") {
        this.readers.push({ id: f.id, level: p.level, x: f.geometry.coordinates[0], y: f.geometry.coordinates[1] });
      } else if (p.feature === "opening") {
        this.openings.push({ id: f.id, level: p.level, kind: p.kind, points: f.geometry.coordinates });
      }
    }
    this.bounds = this.computeBounds();
  }

  computeBounds() {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const z of this.zones.values()) {
      for (const rings of z.polygons) {
        for (const [x, y] of rings[0]) {
          minX = Math.min(minX, x); maxX = Math.max(maxX, x);
          minY = Math.min(minY, y); maxY = Math.max(maxY, y);
        }
      }
    }
    return { minX, minY, maxX, maxY };
  }

  levelName(id) {
    const level = this.levels.find((l) => l.id === id);
    return level ? level.name || level.id : id || "unknown level";
  }

  zoneName(id) {
    const z = this.zones.get(id);
    return z ? z.name : id;
  }

  zonesOn(level) {
    return [...this.zones.values()].filter((z) => z.level === level);
  }

  /** Of the zones a student is inside, the most specific one (the smallest). */
  innermost(zoneIds) {
    let best = null;
    for (const id of zoneIds) {
      const z = this.zones.get(id);
      if (z && (!best || z.area < best.area)) best = z;
    }
    return best;
  }
}
