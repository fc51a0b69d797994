"""Wire codecs, WebSocket and MQTT transports, recording and replay: the I/O shells."""
