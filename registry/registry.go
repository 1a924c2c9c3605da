// Package registry reads the company's connection registry (CSV with a
// header row, or JSON Lines) and loads it into the store atomically: every
// bad row is reported with its line number, and if there is any, nothing of
// the file is applied.
package registry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/relink/relink/provider"
	"github.com/relink/relink/store"
)

// Columns are the registry's columns, in the documented order; org_id, the
// last, is optional and only for Cobalt rows.
var columns = []string{"provider", "provider_id", "access_token", "user_ref", "name", "email", "phone", "institution", "org_id"}

// MaxReported caps the bad rows listed in one error.
const MaxReported = 20

// RowError is one bad row.
type RowError struct {
	Line int
	Msg  string
}

func (e RowError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Error lists the bad rows of a file; nothing of it was applied.
type Error struct {
	File  string
	Rows  []RowError // at most MaxReported
	Total int        // all bad rows
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d bad row(s); nothing was imported. Fix them and import again:", e.File, e.Total)
	for _, r := range e.Rows {
		b.WriteString("\n  " + r.Error())
	}
	if e.Total > len(e.Rows) {
		fmt.Fprintf(&b, "\n  … and %d more", e.Total-len(e.Rows))
	}
	return b.String()
}

// Format is a registry file's format.
type Format int

// The formats.
const (
	CSV Format = iota
	JSONL
)

// Sniff guesses the format from the first non-blank byte: '{' is JSON Lines.
func Sniff(r *bufio.Reader) Format {
	for {
		b, err := r.Peek(1)
		if err != nil || len(b) == 0 {
			return CSV
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			r.ReadByte()
			continue
		case '{':
			return JSONL
		}
		return CSV
	}
}

// Result is a successful import.
type Result struct {
	Rows int
}

// Defaults fill in what a row leaves empty.
type Defaults struct {
	// CobaltOrgID is cobalt.org_id: Cobalt's org_id (our organization, e.g.
	// the clinic) for a Cobalt row without an org_id. When it is empty, a
	// Cobalt row without one is a bad row.
	CobaltOrgID string
}

// Import reads r (named file in messages) and upserts every row in one
// transaction. Bad rows are collected (all of them, the first MaxReported
// listed) and then nothing is applied.
func Import(ctx context.Context, st *store.Store, r io.Reader, file, operator string, defaults Defaults) (Result, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if bom, _ := br.Peek(2); bytes.Equal(bom, []byte{0xff, 0xfe}) || bytes.Equal(bom, []byte{0xfe, 0xff}) {
		return Result{}, fmt.Errorf("%s: the file is UTF-16; save it as UTF-8 (CSV UTF-8 in spreadsheet programs) and import again", file)
	}
	format := Sniff(br)
	im, err := st.BeginImport(ctx, operator)
	if err != nil {
		return Result{}, err
	}
	bad := &Error{File: file}
	seen := make(map[string]int)
	add := func(line int, reg store.Registration) error {
		if reg.Provider == "cobalt" && reg.OrgID == "" {
			reg.OrgID = defaults.CobaltOrgID
		}
		if msg := validate(reg); msg != "" {
			bad.add(line, msg)
			return nil
		}
		key := reg.Provider + ":" + reg.ProviderID
		if prev, dup := seen[key]; dup {
			bad.add(line, fmt.Sprintf("%s appears again (first on line %d)", key, prev))
			return nil
		}
		seen[key] = line
		if bad.Total > 0 {
			return nil // keep validating; nothing will be applied
		}
		if err := im.Add(ctx, reg); err != nil {
			return err
		}
		return nil
	}
	switch format {
	case JSONL:
		err = readJSONL(br, add, bad)
	default:
		err = readCSV(br, add, bad)
	}
	if err == nil && bad.Total == 0 && im.Count() == 0 {
		err = fmt.Errorf("%s: no rows to import", file)
	}
	if err != nil || bad.Total > 0 {
		im.Rollback()
		if err != nil {
			return Result{}, err
		}
		return Result{}, bad
	}
	if err := im.Commit(ctx, file); err != nil {
		return Result{}, err
	}
	return Result{Rows: im.Count()}, nil
}

func (e *Error) add(line int, msg string) {
	e.Total++
	if len(e.Rows) < MaxReported {
		e.Rows = append(e.Rows, RowError{Line: line, Msg: msg})
	}
}

// validate checks one row. Messages never quote a value: a token pasted
// into the wrong column must not be echoed.
func validate(r store.Registration) string {
	switch r.Provider {
	case "plaid", "cobalt":
		if r.AccessToken == "" {
			return "access_token is required for " + r.Provider
		}
	case "belvo":
	case "":
		return "provider is empty (want plaid, belvo or cobalt)"
	default:
		return "provider is not plaid, belvo or cobalt"
	}
	if msg := provider.CheckID(r.ProviderID); msg != "" {
		return "provider_id " + msg
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"access_token", r.AccessToken, maxToken}, {"user_ref", r.UserRef, maxField}, {"name", r.Name, maxField},
		{"email", r.Email, maxEmail}, {"phone", r.Phone, maxField}, {"institution", r.Institution, maxField},
	} {
		if msg := checkField(f.value, f.max); msg != "" {
			return f.name + " " + msg
		}
	}
	if r.Email != "" {
		if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email {
			return "email is not an address like name@example.com"
		}
	}
	if r.Phone != "" && !validPhone(r.Phone) {
		return "phone is not in E.164 form like +15551234567"
	}
	// Cobalt's org_id is our organization (e.g. the clinic), passed with
	// every Link token; it is not the row's access_token_reference_id
	// (https://docs.usecobalt.com/docs/link/setup).
	switch {
	case r.Provider != "cobalt" && r.OrgID != "":
		return "org_id is only for cobalt rows (Cobalt's organization); leave it empty for " + r.Provider
	case r.Provider == "cobalt" && r.OrgID == "":
		return "org_id is required for cobalt when cobalt.org_id is not set (Cobalt's org_id: our organization for this connection, e.g. the clinic id)"
	}
	if msg := checkField(r.OrgID, maxField); msg != "" {
		return "org_id " + msg
	}
	return ""
}

// The longest values a registry field may hold, in bytes: far past any
// real name, address or token, short of what would flood a terminal or a
// message (a 10 MB name once made relink ls write 94 MB for 8 rows).
const (
	maxField = 256
	maxEmail = 254 // RFC 5321's path limit
	maxToken = 4096
)

// checkField says what is wrong with one single-line field ("" when
// nothing), never quoting it: invalid UTF-8 (naming the encoding it looks
// like), a control character (a line break, tab, NUL or escape: the
// dashboard, the CLI and the messages are single-line there), a
// bidirectional override, or a length past max.
func checkField(v string, max int) string {
	if !utf8.ValidString(v) {
		return "is not UTF-8 (" + guessEncoding(v) + "); save the file as UTF-8 and import again"
	}
	if len(v) > max {
		return fmt.Sprintf("is %d bytes long (at most %d)", len(v), max)
	}
	for _, r := range v {
		switch {
		case r == '\r' || r == '\n':
			return "holds a line break (single-line field)"
		case unicode.IsControl(r):
			return fmt.Sprintf("holds a control character (U+%04X: a tab, NUL or escape)", r)
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return fmt.Sprintf("holds a bidirectional override (U+%04X) that makes text read other than it is", r)
		}
	}
	return ""
}

// guessEncoding names what non-UTF-8 bytes look like: Windows-1252 uses
// 0x80–0x9F for printable characters (curly quotes, €), ISO-8859-1 does not.
func guessEncoding(v string) string {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b >= 0x80 && b <= 0x9f {
			return "it looks like Windows-1252"
		}
	}
	return "it looks like ISO-8859-1 (Latin-1)"
}

func validPhone(p string) bool {
	if len(p) < 8 || len(p) > 16 || p[0] != '+' {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func readCSV(r io.Reader, add func(int, store.Registration) error, bad *Error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: the file is empty (want a header row: %s)", bad.File, strings.Join(columns, ","))
		}
		return fmt.Errorf("%s: reading the header: %w", bad.File, err)
	}
	idx := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !known(h) {
			return fmt.Errorf("%s: line 1: unknown column %q (the columns are %s)", bad.File, h, strings.Join(columns, ", "))
		}
		if _, dup := idx[h]; dup {
			return fmt.Errorf("%s: line 1: column %q appears twice", bad.File, h)
		}
		idx[h] = i
	}
	for _, need := range []string{"provider", "provider_id"} {
		if _, ok := idx[need]; !ok {
			return fmt.Errorf("%s: line 1: the header has no %q column", bad.File, need)
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				bad.add(pe.Line, pe.Err.Error())
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					continue
				}
				return nil // a broken quote: the rest of the file cannot be trusted
			}
			return fmt.Errorf("%s: %w", bad.File, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			bad.add(line, fmt.Sprintf("has %d fields, the header has %d", len(rec), len(header)))
			continue
		}
		get := func(col string) string {
			if i, ok := idx[col]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		reg := store.Registration{Provider: get("provider"), ProviderID: get("provider_id"), AccessToken: get("access_token"),
			UserRef: get("user_ref"), Name: get("name"), Email: get("email"), Phone: get("phone"), Institution: get("institution"),
			OrgID: get("org_id")}
		if err := add(line, reg); err != nil {
			return err
		}
	}
}

func known(col string) bool {
	for _, c := range columns {
		if c == col {
			return true
		}
	}
	return false
}

type jsonRow struct {
	Provider    string `json:"provider"`
	ProviderID  string `json:"provider_id"`
	AccessToken string `json:"access_token"`
	UserRef     string `json:"user_ref"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	Institution string `json:"institution"`
	OrgID       string `json:"org_id"`
}

func readJSONL(r io.Reader, add func(int, store.Registration) error, bad *Error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			// The decoder would turn the bad bytes into U+FFFD silently.
			bad.add(line, "is not UTF-8 ("+guessEncoding(string(b))+"); save the file as UTF-8 and import again")
			continue
		}
		var row jsonRow
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&row); err != nil {
			bad.add(line, "not a JSON object of registry columns: "+jsonMsg(err))
			continue
		}
		reg := store.Registration{Provider: strings.TrimSpace(row.Provider), ProviderID: strings.TrimSpace(row.ProviderID),
			AccessToken: strings.TrimSpace(row.AccessToken), UserRef: row.UserRef, Name: row.Name, Email: strings.TrimSpace(row.Email),
			Phone: strings.TrimSpace(row.Phone), Institution: row.Institution, OrgID: strings.TrimSpace(row.OrgID)}
		if err := add(line, reg); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			bad.add(line+1, "line longer than 1 MiB")
			return nil
		}
		return fmt.Errorf("%s: reading: %w", bad.File, err)
	}
	return nil
}

// jsonMsg shortens a decoding error and keeps any value out of it (a token
// pasted into the wrong field must not be echoed).
func jsonMsg(err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ") + " (the columns are " + strings.Join(columns, ", ") + ")"
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must be a string", te.Field)
	}
	return strings.TrimPrefix(msg, "json: ")
}
