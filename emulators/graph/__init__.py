"""Microsoft Graph (calendar subset) + Entra ID token endpoint emulator.

A stateful, in-memory stand-in for the part of Graph v1.0 that Bookker Sync uses,
faithful enough that the real ``msgraph-sdk`` and ``azure-identity`` talk to it
unchanged. Start it with ``python -m emulators.graph``; see emulators/graph/README.md.

Module map (one concern per file):

- ``server``      aiohttp application, HTTPS listener, background pump
- ``tls``         the emulator's CA (trustme) and server certificate
- ``clock``       the virtual clock of the world (tokens use real time)
- ``errors``      Graph- and AAD-shaped error bodies
- ``auth``        token endpoint, OIDC discovery, bearer-token validation
- ``assertion``   certificate client assertions (private_key_jwt) at the token endpoint
- ``signing``     the RS256 signing key, its JWKS, access tokens for registered APIs
- ``consent``     the admin consent endpoint and the emulated administrators' decisions
- ``directory``   tenants, app registrations, user and room mailboxes
- ``model``       the stored event copy, ids, iCalUIds, change keys
- ``event_input`` validation of Graph event JSON written by clients
- ``timezones``   IANA and Windows time zone names, dateTimeTimeZone values
- ``recurrence``  patternedRecurrence expansion (dateutil.rrule)
- ``calendar``    one mailbox's calendar: lookups, occurrences, views
- ``changelog``   the per-mailbox ordered change log (delta, change notifications)
- ``world``       meeting semantics: copies, propagation, responses, cancels
- ``attendant``   the room mailbox booking attendant (pure decisions)
- ``serialize``   Graph JSON for events, rooms, users
- ``odata``       $select/$filter/$orderby/$expand/$top and Prefer parsing
- ``delta``       calendarView delta tokens, paging and eviction
- ``throttling``  per-mailbox concurrency and budget, injected 429/503
- ``faults``      the fault configuration of PUT /_emulator/faults
- ``lost_answers`` writes applied while the client sees 503/504/nothing; freeze
- ``stats``       request counters by method, route template, mailbox, status
- ``router``      Graph URL normalisation and route templates
- ``graph_api``   handlers of the Graph routes
- ``dispatch``    one Graph request through auth, throttling, faults, stats
- ``batch``       JSON $batch
- ``subscriptions`` change-notification subscriptions: rules, store, handshake
- ``subscription_api`` handlers of /subscriptions (create, renew, delete, reauthorize)
- ``notifications`` webhook delivery: batching, retries, endpoint states, faults,
                  lifecycle notifications
- ``control``     the /_emulator control API
- ``control_identity`` control API for app registrations, certificates, consent
"""
