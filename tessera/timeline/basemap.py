"""The bundled offline basemap: Natural Earth 1:110m country outlines as a small GeoJSON.

Source: Natural Earth "Admin 0 - Countries" 1:110m (public domain, naturalearthdata.com), as shipped in
the geopandas 0.14.4 wheel (``geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp``; fetched
with ``pip download geopandas==0.14.4 --no-deps``). The workstation draws it from its own origin: no
tile server, no outbound request. :func:`build` rebuilds ``tessera/review/static/basemap.geojson`` from
that shapefile with a few lines of ``struct`` (no GIS dependency); coordinates are rounded to 0.01°
(about 1 km), which is below what a world or country view can show.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

BASEMAP = Path(__file__).resolve().parents[1] / "review" / "static" / "basemap.geojson"
SOURCE = (
    "Natural Earth 1:110m Admin 0 - Countries (public domain, https://www.naturalearthdata.com/about/terms-of-use/),"
    " from geopandas 0.14.4 datasets/naturalearth_lowres"
)


def _names(dbf: bytes) -> list[str]:
    """The ``name`` column of a dBase III file (header, field descriptors, fixed-width records)."""
    n_records, header_len, record_len = struct.unpack("<IHH", dbf[4:12])
    fields: list[tuple[str, int, int]] = []
    pos, offset = 32, 1  # each record starts with a deletion flag byte
    while dbf[pos] != 0x0D:
        name = dbf[pos : pos + 11].split(b"\0")[0].decode("ascii").lower()
        size = dbf[pos + 16]
        fields.append((name, offset, size))
        offset += size
        pos += 32
    _, start, size = next(f for f in fields if f[0] == "name")
    out = []
    for i in range(n_records):
        rec = header_len + i * record_len
        out.append(dbf[rec + start : rec + start + size].decode("utf-8", "replace").strip())
    return out


def _rings(shp: bytes) -> list[list[list[tuple[float, float]]]]:
    """Polygon records (shape type 5) of an ESRI shapefile: per record, its rings of (lon, lat)."""
    pos = 100
    out: list[list[list[tuple[float, float]]]] = []
    while pos < len(shp):
        _, length = struct.unpack(">ii", shp[pos : pos + 8])
        body = shp[pos + 8 : pos + 8 + length * 2]
        pos += 8 + length * 2
        if struct.unpack("<i", body[:4])[0] != 5:
            out.append([])
            continue
        n_parts, n_points = struct.unpack("<ii", body[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", body[44 : 44 + 4 * n_parts]))
        pts_at = 44 + 4 * n_parts
        pts = [struct.unpack("<2d", body[pts_at + 16 * k : pts_at + 16 * k + 16]) for k in range(n_points)]
        bounds = parts + [n_points]
        out.append([pts[bounds[k] : bounds[k + 1]] for k in range(n_parts)])
    return out


def _simplify(ring: list[tuple[float, float]]) -> list[list[float]]:
    kept: list[list[float]] = []
    for lon, lat in ring:
        p = [round(lon, 2), round(lat, 2)]
        if not kept or kept[-1] != p:
            kept.append(p)
    if kept and kept[0] != kept[-1]:
        kept.append(kept[0])
    return kept


def build(shapefile: Path, out: Path = BASEMAP) -> dict[str, Any]:
    """Write the basemap GeoJSON from a Natural Earth shapefile (``.shp`` next to its ``.dbf``)."""
    names = _names(shapefile.with_suffix(".dbf").read_bytes())
    features = []
    for name, rings in zip(names, _rings(shapefile.read_bytes()), strict=True):
        polys = [r for r in (_simplify(ring) for ring in rings) if len(r) >= 4]
        if polys:
            # Each ring drawn as its own polygon: the SVG renderer fills with even-odd, holes included.
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": name},
                    "geometry": {"type": "MultiPolygon", "coordinates": [[r] for r in polys]},
                }
            )
    doc = {"type": "FeatureCollection", "source": SOURCE, "license": "public domain", "features": features}
    out.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return doc


if __name__ == "__main__":  # python -m tessera.timeline.basemap PATH/naturalearth_lowres.shp
    import sys

    d = build(Path(sys.argv[1]))
    print(f"{len(d['features'])} features -> {BASEMAP} ({BASEMAP.stat().st_size:,} bytes)")
