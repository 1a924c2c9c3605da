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

	"github.com/relink/relink/store"
)

// Columns are the registry's columns, in the documented order.
var columns = []string{"provider", "provider_id", "access_token", "user_ref", "name", "email", "phone", "institution"}

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

// Import reads r (named file in messages) and upserts every row in one
// transaction. Bad rows are collected (all of them, the first MaxReported
// listed) and then nothing is applied.
func Import(ctx context.Context, st *store.Store, r io.Reader, file, operator string) (Result, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	format := Sniff(br)
	im, err := st.BeginImport(ctx, operator)
	if err != nil {
		return Result{}, err
	}
	bad := &Error{File: file}
	seen := make(map[string]int)
	add := func(line int, reg store.Registration) error {
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
	if r.ProviderID == "" {
		return "provider_id is empty"
	}
	if strings.ContainsAny(r.ProviderID, " \t:") {
		return "provider_id has a space or a colon"
	}
	if r.Email != "" {
		if a, err := mail.ParseAddress(r.Email); err != nil || a.Address != r.Email {
			return "email is not an address like name@example.com"
		}
	}
	if r.Phone != "" && !validPhone(r.Phone) {
		return "phone is not in E.164 form like +15551234567"
	}
	return ""
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
			UserRef: get("user_ref"), Name: get("name"), Email: get("email"), Phone: get("phone"), Institution: get("institution")}
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
		var row jsonRow
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&row); err != nil {
			bad.add(line, "not a JSON object of registry columns: "+jsonMsg(err))
			continue
		}
		reg := store.Registration{Provider: strings.TrimSpace(row.Provider), ProviderID: strings.TrimSpace(row.ProviderID),
			AccessToken: strings.TrimSpace(row.AccessToken), UserRef: row.UserRef, Name: row.Name, Email: strings.TrimSpace(row.Email),
			Phone: strings.TrimSpace(row.Phone), Institution: row.Institution}
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
