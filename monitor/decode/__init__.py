"""Decoding: raw NMEA (``nmea``), AIS payloads (``ais``) and CSV position exports (``csv``) into
typed frames; the byte helpers of the compiled kernels (``bytes``) and the codes the decoders
count by (``codes``)."""
