package remind

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/relink/relink/health"
)

// The channel names.
const (
	Email   = "email"
	SMS     = "sms"
	Webhook = "webhook"
)

// ChannelNames lists the channels relink knows.
func ChannelNames() []string { return []string{Email, SMS, Webhook} }

// ValidChannel reports whether name is a known channel.
func ValidChannel(name string) bool { return slices.Contains(ChannelNames(), name) }

// User is the person a reminder goes to.
type User struct {
	Ref   string `json:"user_ref,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Item is one connection a reminder covers.
type Item struct {
	Connection  string          `json:"connection"` // provider:provider_id
	Provider    string          `json:"provider"`
	Institution string          `json:"institution"`
	Category    health.Category `json:"category"`
	Warning     health.Warning  `json:"warning,omitempty"`
	Title       string          `json:"title"`              // what is wrong, in words
	Deadline    *time.Time      `json:"deadline,omitempty"` // a warning's deadline
	UserMessage string          `json:"user_message,omitempty"`
	Link        string          `json:"link"` // always a durable reconnect link
	LinkExpires time.Time       `json:"link_expires"`
}

// Topic is what the item is about: its warning on a working connection,
// else its category.
func (it Item) Topic() string {
	if it.Warning != health.NoWarning && !it.Category.Failing() {
		return string(it.Warning)
	}
	return string(it.Category)
}

// Message is one rendered reminder, as queued in the outbox and handed to a
// channel.
type Message struct {
	Key     string    `json:"key"` // idempotency key: Message-ID, Idempotency-Key
	Channel string    `json:"channel"`
	To      string    `json:"to"` // email address, phone number, or user key (webhook)
	User    User      `json:"user"`
	Subject string    `json:"subject,omitempty"`
	Text    string    `json:"text"`
	HTML    string    `json:"html,omitempty"`
	Items   []Item    `json:"items"`
	Expires time.Time `json:"expires"` // the earliest link expiry: not worth sending after
}

// Channel delivers messages. Send must be safe for concurrent use; errors
// are classified with Transient, Permanent and Unavailable (unclassified
// errors count as transient) and never contain a secret.
type Channel interface {
	Name() string
	Send(ctx context.Context, m Message) error
	Close() error
}

// Kind classifies a send failure.
type Kind int

// The kinds of failure.
const (
	// KindTransient may succeed later: retry this message with backoff.
	KindTransient Kind = iota
	// KindPermanent will never succeed for this message (a rejected address).
	KindPermanent
	// KindUnavailable concerns the channel, not the message (cannot connect,
	// authentication or TLS refused): stop the run and keep the rest queued.
	KindUnavailable
)

// Error is a classified send failure.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Transient, Permanent and Unavailable classify err (nil stays nil).
func Transient(err error) error   { return classify(KindTransient, err) }
func Permanent(err error) error   { return classify(KindPermanent, err) }
func Unavailable(err error) error { return classify(KindUnavailable, err) }

func classify(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns err's kind; unclassified errors are transient.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransient
}

// Key is a message's idempotency key: a hash of the channel, the sorted
// connection ids and the window (the cooldown period the message falls in,
// or the plan's identity when there is no cooldown). The same plan sent
// twice, or two operators reminding the same users within one cooldown
// window, produce the same key, and the outbox keeps one.
func Key(channel string, connIDs []int64, window int64) string {
	ids := slices.Clone(connIDs)
	slices.Sort(ids)
	h := sha256.New()
	fmt.Fprintf(h, "relink-reminder\x00%s\x00", channel)
	var b [8]byte
	for _, id := range ids {
		binary.BigEndian.PutUint64(b[:], uint64(id))
		h.Write(b[:])
	}
	binary.BigEndian.PutUint64(b[:], uint64(window))
	h.Write(b[:])
	return "rm-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Window is the idempotency window of a plan made at planned: the index of
// the cooldown period it falls in, or planned itself without a cooldown.
func Window(planned time.Time, cooldown time.Duration) int64 {
	if cooldown < time.Millisecond {
		return planned.UnixNano()
	}
	return planned.UnixMilli() / cooldown.Milliseconds()
}
