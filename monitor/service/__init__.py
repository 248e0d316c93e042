"""The unattended service (``monitor serve``): live feeds in, the raw archive, scheduled jobs.

``feeds`` and ``inbox`` collect lines and files, ``archive`` keeps every received line, ``jobs``
ingest, detect, alert, report and prune on a schedule, ``runner`` starts and stops it all.
"""
