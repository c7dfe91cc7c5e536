"""``make nightly`` / cron: convert every new or changed v2.x dataset of an inbox, each night.

Read ``run`` first (what to convert, the report); ``nightly.sh`` holds the lock and the dated
log, ``cron`` writes and removes this checkout's one crontab line (which runs ``make nightly``).
"""
