package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// FindLimit is the most connections one lookup of anyone (GroupEveryone)
// returns: a lookup is for finding a person, and text that matches more
// needs more characters.
const FindLimit = 1000

// findIDs is the query of the ids a lookup of anyone finds, at most
// FindLimit, and its arguments: the connections, in any state, whose email,
// name, user ref or provider id starts with the text, ignoring case (ASCII
// letters: SQLite's lower), each served by its own index (migration 0008).
// "plaid:item-abc" is also read as a CONN ref: provider plaid, provider id
// starting item-abc. ok is false for text with nothing to look up.
func findIDs(filter string) (q string, args []any, ok bool) {
	t := strings.ToLower(strings.Join(strings.Fields(filter), " "))
	if t == "" {
		return "", nil, false
	}
	limit := strconv.Itoa(FindLimit)
	starts := func(expr string, n int) string { // expr starts with ?n (?n+1 is the end of that range)
		return fmt.Sprintf(`SELECT id FROM (SELECT id FROM connections WHERE %s >= ?%d AND %s < ?%d LIMIT %s)`, expr, n, expr, n+1, limit)
	}
	parts := []string{starts("lower(email)", 1), starts("lower(name)", 1), starts("lower(user_ref)", 1), starts("lower(provider_id)", 1)}
	args = []any{t, t + "\U0010FFFF"}
	if prov, id, isRef := strings.Cut(t, ":"); isRef && prov != "" && id != "" && !strings.ContainsAny(prov, " @") {
		parts = append(parts, fmt.Sprintf(`SELECT id FROM (SELECT id FROM connections WHERE lower(provider_id) >= ?4 AND lower(provider_id) < ?5 AND +provider = ?3 LIMIT %s)`, limit)) // + keeps the id's index
		args = append(args, prov, id, id+"\U0010FFFF")
	}
	return strings.Join(parts, " UNION ") + ` LIMIT ` + limit, args, true
}

// findPage is a page of GroupEveryone: the connections the filter finds, in
// any state (healthy and never checked included), in the query's order.
// Without a filter it is empty: there is nothing to look up.
func (s *Store) findPage(ctx context.Context, q PageQuery) ([]Connection, error) {
	ids, args, ok := findIDs(q.Filter)
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
		order = "institution_key " + dir + ", name " + dir + ", id " + dir
	default: // failing first, longest failing first; then the rest by name
		order = "failing DESC, first_failed_at " + dir + ", name " + dir + ", id " + dir
	}
	n := len(args)
	rows, err := s.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id IN (`+ids+`)
		ORDER BY `+order+fmt.Sprintf(` LIMIT ?%d OFFSET ?%d`, n+1, n+2), append(args, q.Limit, q.Offset)...)
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
	ids, args, ok := findIDs(filter)
	if !ok {
		return 0, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+ids+`)`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting found connections: %w", err)
	}
	return n, nil
}
