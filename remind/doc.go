// Package remind reaches end users whose connections need them: the
// channels (email over SMTP, SMS over a Twilio-style HTTP API, a signed
// webhook for teams with their own sender) behind one small interface, the
// per-category message templates (embedded defaults, overridable from a
// directory, checked by rendering at start-up), the reminder policy (who may
// be reminded now, and why the others are skipped), and the outbox
// dispatcher (bounded concurrency, a rate limit per channel, retries with
// backoff). The loopback SMTP mailbox the demo and the tests send to is
// sandbox.Mailbox, beside the provider emulators.
//
// It holds no connection state of its own: the backend decides with the
// policy, queues rendered messages in the store's outbox, and runs a
// Dispatcher over it. Nothing here logs or returns a secret (SMTP password,
// SMS auth token, webhook secret).
package remind
