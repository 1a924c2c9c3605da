package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/relink/relink/health"
)

// DemoConn is one generated demo connection: what its emulator holds, who
// the user is, and since when it has been failing (zero when healthy).
type DemoConn struct {
	Provider string
	Conn     Connection
	Name     string
	Email    string
	Phone    string
	FailedAt time.Time
	// Warning, when set, is applied to the emulator after adding (Plaid
	// PENDING_DISCONNECT, Cobalt password_change_warning).
	Warning      health.Warning
	WarningUntil time.Time
}

// History is the signal that started this connection's failure, dated
// FailedAt, so the demo's history and "failing for" ages look lived-in.
// ok is false for a healthy connection.
func (d DemoConn) History() (health.Signal, bool) {
	if d.FailedAt.IsZero() {
		return health.Signal{}, false
	}
	var s health.Signal
	switch d.Provider {
	case "plaid":
		s = health.PlaidErrorSignal(health.PlaidError{Type: d.Conn.Type, Code: d.Conn.Code, Reason: d.Conn.Reason, DisplayMessage: d.Conn.Message}, health.SourceWebhook, d.FailedAt)
	case "belvo":
		s = health.BelvoLink(d.Conn.Code, d.Conn.Message, health.DefaultLoginRules(), d.FailedAt)
		s.Source = health.SourceWebhook
	case "cobalt":
		s = health.CobaltEventSignal(health.CobaltEvent{Type: "access_token.login_required", ErrorType: d.Conn.Reason, Message: d.Conn.Message}, d.FailedAt)
	}
	return s, true
}

type weighted[T any] struct {
	w int
	v T
}

func pick[T any](r *rand.Rand, xs []weighted[T]) T {
	total := 0
	for _, x := range xs {
		total += x.w
	}
	n := r.IntN(total)
	for _, x := range xs {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return xs[len(xs)-1].v
}

var (
	demoFirst = []string{"Ana", "Bruno", "Carla", "Diego", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luis",
		"Maya", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tomás", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe"}
	demoLast = []string{"Silva", "Costa", "Nguyen", "Okafor", "Müller", "Tanaka", "García", "Haddad", "Kowalski", "Martins",
		"Oliveira", "Patel", "Rossi", "Santos", "Schmidt", "Yilmaz", "Dubois", "Novak", "Ibrahim", "Lopez"}
	plaidInst = []weighted[string]{{30, "First Platypus Bank"}, {20, "Tartan Bank"}, {15, "Houndstooth Bank"},
		{12, "First Gingham Credit Union"}, {10, "Tattersall Federal Credit Union"}, {8, "Platypus OAuth Bank"}, {5, "Flexible Platypus Open Banking"}}
	belvoInst = []weighted[string]{{30, "erebor_mx_retail"}, {25, "gringotts_br_retail"}, {20, "banco_azul_mx"},
		{15, "banco_del_sol_co"}, {10, "nubank_br"}}
	cobaltInst = []weighted[string]{{35, "https://ecw.northside-clinic.example"}, {30, "https://epic.valleyhealth.example"},
		{20, "https://athena.riverside.example"}, {15, "https://ecw.lakeview-family.example"}}

	plaidFailures = []weighted[[3]string]{ // type, code, reason
		{30, [3]string{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", ""}},
		{6, [3]string{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "OAUTH_INVALID_TOKEN"}},
		{7, [3]string{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "OAUTH_CONSENT_EXPIRED"}},
		{3, [3]string{"ITEM_ERROR", "ITEM_LOGIN_REQUIRED", "OAUTH_USER_REVOKED"}},
		{7, [3]string{"ITEM_ERROR", "PASSWORD_RESET_REQUIRED", ""}},
		{7, [3]string{"ITEM_ERROR", "ITEM_LOCKED", ""}},
		{5, [3]string{"ITEM_ERROR", "USER_SETUP_REQUIRED", ""}},
		{4, [3]string{"ITEM_ERROR", "ACCESS_NOT_GRANTED", ""}},
		{2, [3]string{"ITEM_ERROR", "NO_ACCOUNTS", ""}},
		{2, [3]string{"ITEM_ERROR", "USER_PERMISSION_REVOKED", ""}},
		{2, [3]string{"ITEM_ERROR", "ITEM_NOT_FOUND", ""}},
		{2, [3]string{"ITEM_ERROR", "ITEM_NOT_SUPPORTED", ""}},
		{4, [3]string{"INSTITUTION_ERROR", "INSTITUTION_NOT_RESPONDING", ""}},
		{1, [3]string{"INSTITUTION_ERROR", "INSTITUTION_NO_LONGER_SUPPORTED", ""}},
	}
	belvoFailures = []weighted[[2]string]{ // status, message
		{40, [2]string{"invalid", "Invalid credentials provided to login to the institution"}},
		{6, [2]string{"invalid", "Your account is locked, please contact your bank"}},
		{5, [2]string{"invalid", "La contraseña está vencida"}},
		{3, [2]string{"invalid", "You must log in to your bank's website to complete a process"}},
		{25, [2]string{"token_required", ""}},
		{10, [2]string{"unconfirmed", ""}},
	}
	cobaltFailures = []weighted[[2]string]{ // error_type, message
		{55, [2]string{"", "Your EHR password was changed. Please reconnect your account."}},
		{25, [2]string{"password_expired", "Your EHR password has expired. Reset it in the EHR, then reconnect."}},
		{10, [2]string{"account_locked", "Your EHR account is locked. Unlock it with your administrator, then reconnect."}},
	}
)

// DemoData generates n demo connections, deterministic for a seed: half
// Plaid, a third Belvo, the rest Cobalt; about 85% healthy, a tail of
// failures in every category the emulators can produce, some warnings with
// deadlines, and a spike of login failures at Tartan Bank in the last day
// (an institution-side change, not 40 separate users).
func DemoData(seed uint64, n int, now time.Time) []DemoConn {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]DemoConn, 0, n)
	for i := 0; i < n; i++ {
		first, last := demoFirst[r.IntN(len(demoFirst))], demoLast[r.IntN(len(demoLast))]
		d := DemoConn{Name: first + " " + last,
			Email: fmt.Sprintf("%s.%s%d@example.com", ascii(first), ascii(last), i),
			Phone: fmt.Sprintf("+1555%07d", r.IntN(10_000_000))}
		age := time.Duration(r.ExpFloat64()*3*24) * time.Hour // failing for: mostly days, a long tail
		if age > 40*24*time.Hour {
			age = 40 * 24 * time.Hour
		}
		failedAt := now.Add(-age - time.Duration(r.IntN(3600))*time.Second)
		failing := r.IntN(100) < 14
		switch p := r.IntN(100); {
		case p < 50:
			d.Provider = "plaid"
			d.Conn = Connection{ID: fmt.Sprintf("item-%s", token(r, 20)), AccessToken: "access-sandbox-" + token(r, 24),
				UserRef: fmt.Sprintf("user-%05d", i), Institution: pick(r, plaidInst)}
			if failing {
				f := pick(r, plaidFailures)
				d.Conn.Type, d.Conn.Code, d.Conn.Reason = f[0], f[1], f[2]
			} else if r.IntN(100) < 5 {
				d.Warning, d.WarningUntil = health.ConsentExpiring, now.Add(time.Duration(1+r.IntN(13))*24*time.Hour)
			}
		case p < 83:
			d.Provider = "belvo"
			d.Conn = Connection{ID: uuid(r), UserRef: fmt.Sprintf("user-%05d", i), Institution: pick(r, belvoInst)}
			if failing {
				f := pick(r, belvoFailures)
				d.Conn.Code, d.Conn.Message = f[0], f[1]
			}
		default:
			d.Provider = "cobalt"
			d.Conn = Connection{ID: fmt.Sprintf("clinic-%05d", i), AccessToken: "cobalt-" + token(r, 24),
				UserRef: fmt.Sprintf("user-%05d", i), Institution: pick(r, cobaltInst)}
			if failing {
				f := pick(r, cobaltFailures)
				d.Conn.Code, d.Conn.Reason, d.Conn.Message = "login_required", f[0], f[1]
			} else if r.IntN(100) < 6 {
				d.Warning = health.PasswordChangeWarning
			}
		}
		if failing {
			d.FailedAt = failedAt
		}
		d.Conn.CreatedAt = now.Add(-time.Duration(60+r.IntN(400)) * 24 * time.Hour)
		out = append(out, d)
	}
	// The spike: Tartan Bank changed its login page this morning.
	spike := 0
	for i := range out {
		d := &out[i]
		if spike >= n/60 || d.Provider != "plaid" || !d.FailedAt.IsZero() {
			continue
		}
		if d.Conn.Institution == "Tartan Bank" || spike < n/120 {
			d.Conn.Institution = "Tartan Bank"
			d.Conn.Type, d.Conn.Code, d.Conn.Reason = "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", ""
			d.FailedAt = now.Add(-time.Duration(1+r.IntN(18*60)) * time.Minute)
			d.Warning = ""
			spike++
		}
	}
	return out
}

func token(r *rand.Rand, n int) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func uuid(r *rand.Rand) string {
	h := func(n int) string {
		const hex = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = hex[r.IntN(16)]
		}
		return string(b)
	}
	return h(8) + "-" + h(4) + "-4" + h(3) + "-a" + h(3) + "-" + h(12)
}

func ascii(s string) string {
	return strings.ToLower(strings.NewReplacer("á", "a", "ü", "u", "ç", "c", "ã", "a", "é", "e", "í", "i", "ó", "o").Replace(s))
}
