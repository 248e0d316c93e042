"""CSV position exports: dialects (MarineCadastre, DMA, mapped columns) and the chunk decoder."""
