"""Where raw input comes from: files, folders, globs and standard input, decompressed and cut into
chunks."""
