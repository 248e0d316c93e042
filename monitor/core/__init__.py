"""Shared building blocks of every layer: atomic writes, user times, compiled-kernel setup."""
