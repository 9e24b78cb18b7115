"""``backout drill``: prove on a throwaway database that the old release runs on the new schema.

One backend per target (:mod:`.sqlite`, :mod:`.postgres` for a server URL and the embedded
server, :mod:`.mysql`), catalog snapshots and their diff (:mod:`.snapshot`), synthetic seeding
and the seeded-data comparison (:mod:`.seed`), the contract probe and the old release's own
statements (:mod:`.probe`), the migration runners (:mod:`.runners`: plain SQL, Alembic, Django
through their own engines), and the steps that tie them together (:mod:`.run`).
"""
