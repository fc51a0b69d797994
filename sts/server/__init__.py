"""`sts serve`: the live service, a shell on the hub (sts/hub.py).

Sources: gateway frames over WebSocket (`ingest_ws`) and MQTT (`mqtt_source`) go to the
`IngestDesk`, which maps them to engine codes, counts what it rejects and journals what
it keeps; the `TickLoop` feeds the hub once per tick. Sinks: the `Feed` stores every
durable message before fanning it out to subscribers (`feed_clients`).
`app` wires it all on one port with the plain HTTP routes (`http_routes`).
"""
