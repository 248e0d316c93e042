"""Decoding: raw NMEA (``nmea``), AIS payloads (``ais``) and CSV position exports (``csv``) into
typed frames."""
