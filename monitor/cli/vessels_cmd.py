"""``monitor vessels`` (who was seen, searchable) and ``monitor vessel`` (one vessel's story)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli.options import config_option, format_option, resolve_settings, store_option
from monitor.cli.output import (
    Column,
    echo_listing,
    iso_utc,
    listing_text,
    minute,
    unknown_id_errors,
)

if TYPE_CHECKING:
    import polars as pl

    from monitor.pipeline.lookup import VesselStory


def _position(row: dict[str, Any]) -> str:
    lat, lon = row["last_lat"], row["last_lon"]
    if lat is None or lon is None:
        return "-"
    return f"{abs(lat):.4f}{'N' if lat >= 0 else 'S'} {abs(lon):.4f}{'E' if lon >= 0 else 'W'}"


VESSEL_COLUMNS = (
    Column("vessel_name", "Vessel", shrink_to=12),
    Column("mmsi", "MMSI", right=True),
    Column("imo", "IMO", drop=4, right=True),
    Column("flag", "Flag", drop=2, shrink_to=8),
    Column("ship_type", "Type", drop=5, shrink_to=8),
    Column("first_seen_utc", "First seen (UTC)", minute, drop=6),
    Column("last_seen_utc", "Last seen (UTC)", minute, drop=1),
    Column("last_position", "Last position", drop=7),
    Column("n_calls", "Calls", drop=1, right=True),
    Column("other_names", "Other names", drop=3, shrink_to=10),
)


def _vessel_rows(vessels: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    return vessels.with_columns(
        last_position=pl.struct("last_lat", "last_lon").map_elements(
            _position, return_dtype=pl.String
        ),
        other_names=pl.col("names")
        .list.set_difference(pl.concat_list(pl.col("vessel_name").fill_null("")))
        .list.join(", ")
        .replace("", None),
    )


@click.command("vessels")
@config_option
@store_option
@click.option("--name", default=None, help="Vessels that used a name containing TEXT (any case).")
@click.option("--mmsi", type=int, default=None, help="The vessel with this MMSI.")
@click.option("--imo", type=int, default=None, help="Vessels that reported this IMO number.")
@click.option("--port", "port_id", default=None, help="Vessels with a call at this port id.")
@format_option
@click.pass_context
def vessels_command(
    ctx: click.Context,
    config: Path | None,
    store: Path | None,
    name: str | None,
    mmsi: int | None,
    imo: int | None,
    port_id: str | None,
    fmt: str,
) -> None:
    """List every vessel seen: names used, flag, type, first and last seen, last position,
    calls.

    CSV and JSON add the IMO, call sign, every name used, the ports called at and the number of
    positions.
    """
    from monitor.store.calls import load_calls

    settings = resolve_settings(ctx, config, store)
    with unknown_id_errors():
        from monitor.analyse.geofences import load_zones
        from monitor.pipeline.lookup import list_vessels

        calls = load_calls(settings.store.path)
        vessels = list_vessels(
            settings.store.path,
            calls,
            name=name,
            mmsi=mmsi,
            imo=imo,
            port_id=port_id,
            known_ports=[z.port_id for z in load_zones(settings)],
        )
    if fmt != "table":
        echo_listing(vessels, VESSEL_COLUMNS, fmt)  # type: ignore[arg-type]
        return
    if vessels.is_empty():
        click.echo("No vessel matches." if (name or imo) else "The store holds no vessels yet.")
        return
    echo_listing(
        _vessel_rows(vessels),
        VESSEL_COLUMNS,
        "table",
        title=f"{vessels.height} vessel(s)",
        notes=["monitor vessel MMSI (or NAME) tells one vessel's story."],
    )


TIMELINE_COLUMNS = (
    Column("time_utc", "Time (UTC)", minute),
    Column("what", "What"),
    Column("detail", "Detail", shrink_to=20),
)


def timeline(story: VesselStory) -> pl.DataFrame:
    """Return the story as rows of time_utc, what, port_id, detail, oldest first."""
    import polars as pl

    rows: list[dict[str, Any]] = []
    for change in story.identity.iter_rows(named=True):
        before = change["previous"]
        text = f"{change['field']}: {before} -> {change['value']}" if before else None
        rows.append(
            {
                "time_utc": change["timestamp_utc"],
                "what": "identity",
                "port_id": None,
                "detail": text or f"{change['field']}: {change['value']}",
            }
        )
    for call in story.calls.iter_rows(named=True):
        hours = call["duration_h"]
        left = (
            "still in port"
            if call["status"] == "in_port"
            else f"left {minute(call['departure_utc'])}"
        )
        seen = "" if call["arrival_observed"] else ", arrival not observed"
        rows.append(
            {
                "time_utc": call["arrival_utc"],
                "what": "call",
                "port_id": call["port_id"],
                "detail": f"{call['port_name'] or call['port_id']}: {left}"
                + (f", {hours:.1f} h" if hours is not None else "")
                + f", confidence {call['confidence']}{seen}",
            }
        )
    if story.events is not None:
        rows.extend(_event_rows(story.events, story.vessel["mmsi"]))
    frame = pl.DataFrame(
        rows,
        schema={
            "time_utc": pl.Datetime("us", "UTC"),
            "what": pl.String(),
            "port_id": pl.String(),
            "detail": pl.String(),
        },
    )
    return frame.sort("time_utc", maintain_order=True)


def _event_rows(events: pl.DataFrame, mmsi: int) -> list[dict[str, Any]]:
    from monitor.report.fmt import EVENT_TITLES, event_summary

    out = []
    for event in events.iter_rows(named=True):
        if event["mmsi"] != mmsi and event["other_mmsi"] == mmsi:
            # Told from this vessel's side: the other vessel is the event's MMSI.
            event = {**event, "mmsi": mmsi, "other_mmsi": event["mmsi"]}
        out.append(
            {
                "time_utc": event["start_utc"],
                "what": EVENT_TITLES.get(event["kind"], event["kind"]),
                "port_id": event["port_id"],
                "detail": event_summary(event),
            }
        )
    return out


def _headline(vessel: dict[str, Any]) -> list[str]:
    name = vessel["vessel_name"] or f"MMSI {vessel['mmsi']}"
    ids = [f"MMSI {vessel['mmsi']}"]
    ids += [f"IMO {vessel['imo']}"] if vessel["imo"] else []
    ids += [f"call sign {vessel['callsign']}"] if vessel["callsign"] else []
    lines = [f"{name}: {', '.join(ids)}"]
    lines.append(f"Flag {vessel['flag'] or '-'}; type {vessel['ship_type'] or '-'}")
    if vessel["first_seen_utc"] is not None:
        lines.append(
            f"Seen {minute(vessel['first_seen_utc'])} to {minute(vessel['last_seen_utc'])} UTC "
            f"({vessel['n_positions']:,} positions); last position {_position(vessel)}"
        )
    if len(vessel["names"]) > 1:
        lines.append(f"Names used: {', '.join(vessel['names'])}")
    return lines


@click.command("vessel")
@click.argument("key", metavar="MMSI|NAME")
@config_option
@store_option
@format_option
@click.pass_context
def vessel_command(
    ctx: click.Context, key: str, config: Path | None, store: Path | None, fmt: str
) -> None:
    """Tell one vessel's story: identity and its changes, calls in order, events.

    NAME matches any name the vessel used, in any case, whole or in part; when several vessels
    match, they are listed and the MMSI picks one. CSV prints the timeline (time_utc, what,
    port_id, detail); JSON the vessel, its identity changes, calls, events and timeline.
    """
    from monitor.pipeline.lookup import vessel_story
    from monitor.store.calls import load_calls
    from monitor.store.events import load_events

    settings = resolve_settings(ctx, config, store)
    with unknown_id_errors():
        story = vessel_story(
            settings.store.path,
            key,
            load_calls(settings.store.path),
            load_events(settings.store.path),
        )
    steps = timeline(story)
    if fmt == "json":
        document = {
            "vessel": story.vessel,
            "identity_changes": story.identity.to_dicts(),
            "calls": story.calls.to_dicts(),
            "events": None if story.events is None else story.events.to_dicts(),
            "timeline": steps.to_dicts(),
        }
        click.echo(json.dumps(document, default=iso_utc, ensure_ascii=False, indent=1))
        return
    if fmt == "csv":
        click.echo(listing_text(steps, TIMELINE_COLUMNS, "csv"), nl=False)
        return
    for line in _headline(story.vessel):
        click.echo(line)
    click.echo()
    click.echo(listing_text(steps, TIMELINE_COLUMNS, "table"), nl=False)


COMMANDS: list[click.Command] = [vessels_command, vessel_command]
