"""NMEA 0183 text: the line scan, the clocks that time each sentence, multi-part reassembly, the
chunk decoder."""
