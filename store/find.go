package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// FindLimit is the most connections one lookup of anyone (GroupEveryone)
// returns: a lookup is for finding a person, and a word that matches more
// needs another word.
const FindLimit = 1000

// findMatch turns a filter into an FTS5 query over connections_find (the
// name, email, user ref, CONN ref and institution of every connection;
// migration 0008). Each word of the filter becomes a phrase of its letters
// and digits, and every word must match. The last word is the one being
// typed: its last part may be the start of a longer one, so "hiro.schmidt@exa"
// matches the email hiro.schmidt@example.com (the phrase hiro schmidt exa*)
// and "hiro schm" the name Hiro Schmidt; the words before it are whole
// ("hiro" does not match Hiroko). ok is false for a filter with no letter
// or digit.
//
// Only the last part is a prefix because a prefix longer than the
// index's prefix lengths (1 to 4 characters) makes FTS5 merge the lists of
// every word it starts: "user"* over a million emails user1@…, user2@… took
// 440 ms without its prefix index; as a whole word it takes 0.6 ms.
func findMatch(filter string) (expr string, ok bool) {
	words := strings.Fields(filter)
	var phrases []string
	for i, word := range words {
		parts := strings.FieldsFunc(word, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
		if len(parts) == 0 {
			continue
		}
		p := `"` + strings.Join(parts, " ") + `"`
		if i == len(words)-1 {
			p += "*"
		}
		phrases = append(phrases, p)
	}
	return strings.Join(phrases, " AND "), len(phrases) > 0
}

// findIDs is the subquery of the ids a lookup finds, at most FindLimit.
var findIDs = `SELECT rowid FROM connections_find WHERE connections_find MATCH ? LIMIT ` + strconv.Itoa(FindLimit)

// findPage is a page of GroupEveryone: the connections the filter finds, in
// any state (healthy and never checked included), in the query's order.
// Without a filter it is empty: there is nothing to look up.
func (s *Store) findPage(ctx context.Context, q PageQuery) ([]Connection, error) {
	expr, ok := findMatch(q.Filter)
	if !ok {
		return nil, nil
	}
	dir := "ASC"
	if q.Desc {
		dir = "DESC"
	}
	var order string
	switch q.Sort {
	case SortName:
		order = "name " + dir + ", id " + dir
	case SortInstitution:
		order = "institution " + dir + ", name " + dir + ", id " + dir
	default: // failing first, longest failing first; then the rest by name
		order = "failing DESC, first_failed_at " + dir + ", name " + dir + ", id " + dir
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id IN (`+findIDs+`)
		ORDER BY `+order+` LIMIT ? OFFSET ?`, expr, q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("store: finding connections: %w", err)
	}
	defer rows.Close()
	var out []Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("store: finding connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// findCount counts what a lookup finds, at most FindLimit.
func (s *Store) findCount(ctx context.Context, filter string) (int, error) {
	expr, ok := findMatch(filter)
	if !ok {
		return 0, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+findIDs+`)`, expr).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting found connections: %w", err)
	}
	return n, nil
}
