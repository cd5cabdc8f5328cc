"""Enter/leave tracking: per (audience, subject) membership state, the change log, the
change feeds, and the status of background recomputes.

`service.apply_membership` / `service.replace_membership` are the one way membership
changes; `jobs` tracks recomputes; `background.run_background_workers` runs what must
keep going while the app is up (webhook delivery, repair of interrupted writes, the
periodic sweep). Audience kinds plug in through `adapters` (`kinds_journey`, registered
by `kinds`); `tracking` evaluates ingest triggers through the trigger index, `recompute`
follows definition changes, `sweep` catches time windows passing, and `lookup` answers
which audiences a contact is in.
"""
