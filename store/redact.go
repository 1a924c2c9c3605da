package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// No live provider token is kept at rest. A direct link's URL carries the
// token it was minted with (Plaid's hosted page or link_token, Belvo's
// widget access_token, Cobalt's lt_… token), so only its page's origin is
// stored; a provider payload kept in the history loses every field named
// like a token. Migration 0005 applies both to rows written before.

// linkOrigin is what is stored of a direct link: the scheme and host (with
// its port) of the provider's page, without user info, path, query or
// fragment, where tokens travel; "" if raw is not an absolute URL.
func linkOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// storedURL is the URL column of a link of kind k: a durable link's own
// /r/{ticket} URL (it carries no provider token), a direct link's origin.
func storedURL(k LinkKind, raw string) string {
	if k == LinkDurable {
		return raw
	}
	return linkOrigin(raw)
}

// secretKeys are the payload fields dropped from a stored raw event, at any
// depth, compared without case: Plaid's public_token(s) and link_token,
// Cobalt's public_token, token and access_token, Belvo's widget access and
// refresh tokens. Ids such as access_token_reference_id are kept.
var secretKeys = map[string]bool{
	"public_token": true, "public_tokens": true, "link_token": true, "access_token": true,
	"refresh_token": true, "token": true, "access": true, "refresh": true,
}

// maxScrubDepth bounds how deep scrubRaw looks; a deeper value that may
// hold a secret is dropped whole (replaced by null).
const maxScrubDepth = 16

// mayHoldSecret is scrubRaw's fast test: false means b names no secret key
// (a key written with escapes is not trusted to be harmless).
func mayHoldSecret(b []byte) bool {
	if bytes.Contains(b, []byte(`\u`)) {
		return true
	}
	low := bytes.ToLower(b)
	for k := range secretKeys {
		if bytes.Contains(low, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return false
}

// scrubRaw returns raw without its secret fields (secretKeys), keeping the
// order and the text of everything else; raw itself when there is nothing
// to drop. A raw that may hold a secret but is not JSON is not kept (nil).
func scrubRaw(raw []byte) []byte {
	if len(raw) == 0 || !mayHoldSecret(raw) {
		return raw
	}
	if !json.Valid(raw) {
		return nil
	}
	out, changed, err := scrubValue(bytes.TrimSpace(raw), 0)
	if err != nil {
		return nil
	}
	if !changed {
		return raw
	}
	return out
}

// scrubValue drops the secret fields of one valid JSON value.
func scrubValue(v []byte, depth int) ([]byte, bool, error) {
	if len(v) == 0 || (v[0] != '{' && v[0] != '[') || !mayHoldSecret(v) {
		return v, false, nil
	}
	if depth >= maxScrubDepth {
		return []byte("null"), true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	if _, err := dec.Token(); err != nil {
		return nil, false, err
	}
	var b bytes.Buffer
	changed, object := false, v[0] == '{'
	b.WriteByte(v[0])
	for n := 0; dec.More(); {
		var key string
		if object {
			t, err := dec.Token()
			if err != nil {
				return nil, false, err
			}
			key, _ = t.(string)
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, false, err
		}
		if object && secretKeys[strings.ToLower(key)] {
			changed = true
			continue
		}
		sv, c, err := scrubValue(val, depth+1)
		if err != nil {
			return nil, false, err
		}
		changed = changed || c
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		if object {
			k, _ := json.Marshal(key)
			b.Write(k)
			b.WriteByte(':')
		}
		b.Write(sv)
	}
	if object {
		b.WriteByte('}')
	} else {
		b.WriteByte(']')
	}
	return b.Bytes(), changed, nil
}

// redactBatch is how many rows migration 0005 rewrites per statement batch.
const redactBatch = 500

// redactTokensAtRest is the Go step of migration 0005: direct links keep
// only their page's origin, stored raw events lose their secret fields.
// It is idempotent and runs in the migration's transaction, with
// secure_delete on so the old text does not linger in freed space.
func redactTokensAtRest(ctx context.Context, tx *sql.Tx) error {
	var secure int
	if err := tx.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&secure); err != nil {
		return fmt.Errorf("reading secure_delete: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA secure_delete = 1"); err != nil {
		return fmt.Errorf("turning secure_delete on: %w", err)
	}
	restore := map[int]string{0: "OFF", 1: "ON", 2: "FAST"}[secure]
	defer tx.ExecContext(context.WithoutCancel(ctx), "PRAGMA secure_delete = "+restore)
	if err := rewriteRows(ctx, tx, `SELECT id, url FROM links WHERE kind = 'direct' AND id > ? ORDER BY id LIMIT ?`,
		`UPDATE links SET url = ? WHERE id = ?`, func(b []byte) ([]byte, bool) {
			o := linkOrigin(string(b))
			return []byte(o), o != string(b)
		}, true); err != nil {
		return fmt.Errorf("redacting direct links: %w", err)
	}
	var like []string
	for k := range secretKeys {
		like = append(like, fmt.Sprintf(`instr(lower(CAST(raw AS TEXT)), '"%s"') > 0`, k))
	}
	like = append(like, `instr(CAST(raw AS TEXT), '\u') > 0`)
	q := `SELECT id, raw FROM events WHERE raw IS NOT NULL AND (` + strings.Join(like, " OR ") + `) AND id > ? ORDER BY id LIMIT ?`
	if err := rewriteRows(ctx, tx, q, `UPDATE events SET raw = ? WHERE id = ?`, func(b []byte) ([]byte, bool) {
		out := scrubRaw(b)
		return out, out == nil || !bytes.Equal(out, b)
	}, false); err != nil {
		return fmt.Errorf("redacting stored events: %w", err)
	}
	return nil
}

// rewriteRows pages through (id, value) rows of sel by id and writes back
// with upd each value fix changes; text says the value is TEXT, not BLOB.
func rewriteRows(ctx context.Context, tx *sql.Tx, sel, upd string, fix func([]byte) ([]byte, bool), text bool) error {
	type change struct {
		id  int64
		val []byte
	}
	var last int64
	for {
		rows, err := tx.QueryContext(ctx, sel, last, redactBatch)
		if err != nil {
			return err
		}
		var todo []change
		n := 0
		for rows.Next() {
			var id int64
			var v []byte
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return err
			}
			n, last = n+1, id
			if nv, ok := fix(v); ok {
				todo = append(todo, change{id, nv})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range todo {
			var val any = c.val
			if text {
				val = string(c.val)
			} else if c.val == nil {
				val = nil
			}
			if _, err := tx.ExecContext(ctx, upd, val, c.id); err != nil {
				return err
			}
		}
		if n < redactBatch {
			return nil
		}
	}
}
