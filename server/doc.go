// Package server is `relink serve`: the HTTP receiver of provider webhooks
// (POST /webhooks/plaid, /webhooks/belvo, /webhooks/cobalt), of Cobalt's
// update-mode-completed callback (POST /callbacks/cobalt), and, when
// configured, of durable reconnect links (GET /r/{ticket}).
//
// Each webhook is verified exactly as its provider documents (Plaid's ES256
// JWT, Belvo's shared Authorization value, Cobalt's HMAC-SHA256), parsed by
// the provider's own client package, and stored through store.Apply before
// it is acknowledged. Concurrent requests share transactions: one writer
// goroutine gathers the verified events that arrive together into one
// store.Apply call (group commit) and answers each request only once its
// batch has committed. A duplicate (the same provider event id) is answered
// 200 and stored once. Observations that ask for a recheck are read again
// from the provider in the background, after the acknowledgement.
//
// Anything that is not a verified, well-formed webhook of a known type gets
// a 4xx with a one-line plain-text reason, one log line, and changes
// nothing. GET /healthz reports whether the database answers; GET /metrics
// exposes counters and an acknowledgement-latency histogram in the
// Prometheus text format.
package server
