"""Capture places: pictures whose EXIF carries a GPS position, each with the files behind it.

Exported as GeoJSON (RFC 7946: one Point feature per picture, ``[lon, lat]``) and KML 2.2 (one Placemark
per picture), both written while reading so a case of any size streams through. Coordinates are the
signed decimal degrees read from EXIF (tessera.hashing.exif), never rounded or moved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import groupby
from typing import IO, Any
from xml.sax.saxutils import escape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tessera.store import models as m
from tessera.store.models_items import ItemMember

#: Files named per picture in an export; the count is always complete.
FILES_LIMIT = 1000


def _query(device: str | None, sha256s: frozenset[str] | None) -> Any:
    q = (
        select(
            m.Media.sha256,
            m.Media.gps_lat,
            m.Media.gps_lon,
            m.Media.exif_time,
            m.Media.exif_make,
            m.Media.exif_model,
            m.Media.exif_serial,
            ItemMember.item_id,
            m.File.device_id,
            m.File.locator,
        )
        .join(m.File, m.File.sha256 == m.Media.sha256)
        .outerjoin(ItemMember, ItemMember.sha256 == m.Media.sha256)
        .where(m.Media.gps_lat.is_not(None), m.Media.gps_lon.is_not(None))
    )
    if device:
        q = q.where(m.Media.sha256.in_(select(m.File.sha256).where(m.File.device_id == device)))
    if sha256s is not None:
        q = q.where(m.Media.sha256.in_(sorted(sha256s)))
    return q.order_by(m.Media.sha256, m.File.device_id, m.File.id)


def places(
    session: Session, device: str | None = None, sha256s: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """One dict per located picture, by SHA-256: position, capture time, camera, item and its files."""
    rows = session.execute(_query(device, sha256s).execution_options(yield_per=2000))
    for sha, group in groupby(rows, key=lambda r: r[0]):
        first, *rest = list(group)
        all_rows = [first, *rest]
        yield {
            "sha256": sha,
            "lat": first[1],
            "lon": first[2],
            "exif_time": first[3],
            "make": first[4],
            "model": first[5],
            "serial": first[6],
            "item": first[7],
            "files_total": len(all_rows),
            "files": [{"device": r[8], "locator": r[9]} for r in all_rows[:FILES_LIMIT]],
        }


def place_points(
    session: Session, device: str | None = None, sha256s: frozenset[str] | None = None, limit: int = 20000
) -> tuple[list[dict[str, Any]], bool]:
    """Distinct positions with how many pictures were taken there (the map's dots); truncated flag."""
    q = select(m.Media.gps_lat, m.Media.gps_lon, func.count()).where(
        m.Media.gps_lat.is_not(None), m.Media.gps_lon.is_not(None)
    )
    if device:
        q = q.where(m.Media.sha256.in_(select(m.File.sha256).where(m.File.device_id == device)))
    if sha256s is not None:
        q = q.where(m.Media.sha256.in_(sorted(sha256s)))
    rows = session.execute(
        q.group_by(m.Media.gps_lat, m.Media.gps_lon)
        .order_by(m.Media.gps_lat, m.Media.gps_lon)
        .limit(limit + 1)
    ).all()
    return [{"lat": a, "lon": b, "pictures": int(n)} for a, b, n in rows[:limit]], len(rows) > limit


def pictures_at(session: Session, lat: float, lon: float, limit: int = 200) -> list[dict[str, Any]]:
    """The pictures taken at one exact position, with their files."""
    shas = list(
        session.scalars(
            select(m.Media.sha256)
            .where(m.Media.gps_lat == lat, m.Media.gps_lon == lon)
            .order_by(m.Media.exif_time, m.Media.sha256)
            .limit(limit)
        )
    )
    by_sha = {p["sha256"]: p for p in places(session, sha256s=frozenset(shas))} if shas else {}
    return [by_sha[s] for s in shas if s in by_sha]


def write_geojson(rows: Iterator[dict[str, Any]], fh: IO[str]) -> int:
    fh.write('{"type":"FeatureCollection","features":[\n')
    n = 0
    for p in rows:
        props = {k: v for k, v in p.items() if k not in ("lat", "lon")}
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
            "properties": props,
        }
        fh.write(("," if n else "") + json.dumps(feature, ensure_ascii=False) + "\n")
        n += 1
    fh.write("]}\n")
    return n


def write_kml(rows: Iterator[dict[str, Any]], fh: IO[str], title: str = "Tessera capture places") -> int:
    fh.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'
    )
    fh.write(f"<name>{escape(title)}</name>\n")
    n = 0
    for p in rows:
        files = "\n".join(f"{f['device']} {f['locator']}" for f in p["files"])
        data = "".join(
            f'<Data name="{k}"><value>{escape("" if p[k] is None else str(p[k]))}</value></Data>'
            for k in ("sha256", "exif_time", "make", "model", "serial", "item", "files_total")
        )
        fh.write(
            f"<Placemark><name>{escape(p['sha256'][:12])}</name><description>{escape(files)}</description>"
            f"<ExtendedData>{data}</ExtendedData>"
            f"<Point><coordinates>{p['lon']!r},{p['lat']!r}</coordinates></Point></Placemark>\n"
        )
        n += 1
    fh.write("</Document></kml>\n")
    return n
