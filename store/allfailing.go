package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/relink/relink/health"
)

// The all-failing group (GroupAllFailing) has no page indexes of its own
// (migration 0009 dropped them: every new failure wrote three more index
// entries). Each failing category's rows are in order in its range of
// connections_cat_since, connections_cat_name and connections_cat_inst, so
// a page of all of them merges those ranges: a compound SELECT, one arm per
// category, UNION ALL, ordered on the compound, which SQLite reads as a
// merge of the arms' index-ordered streams (nothing sorted) that stops at
// the end of the page. Up to directOffset the merge reads the page's rows
// whole; deeper, it reads ids and the columns it orders by alone, from the
// indexes, and the page's rows are read by id after it, so the rows an
// OFFSET steps over are never read from the table.
//
// The longest-failing order (remindable DESC, rank DESC, first_failed_at,
// id) starts with two columns that are constant within a category but not
// in any index: the categories are taken a tier at a time (failTiers: the
// categories of one remindable and rank, in that order), each tier a merge
// on (first_failed_at, id), and a tier wholly before the page is skipped
// by its count.

// failTier is the failing categories of one remindable and rank.
type failTier []health.Category

// failTiers are failingCats grouped by remindable and rank, in the
// longest-failing order: what a reminder can fix first, then worst first.
// Migration 0008's remindable column and Apply's rank column say the same
// as health (TestRemindableMatchesHealth, TestFailTiersMatchTheStore).
var failTiers = func() []failTier {
	cats := slices.Clone(failingCats)
	key := func(c health.Category) (bool, int) { return c.Remindable(), c.Rank() }
	slices.SortStableFunc(cats, func(a, b health.Category) int {
		ra, na := key(a)
		rb, nb := key(b)
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return cmp.Compare(nb, na)
	})
	var tiers []failTier
	for i, c := range cats {
		if i > 0 {
			r0, n0 := key(cats[i-1])
			if r, n := key(c); r == r0 && n == n0 {
				tiers[len(tiers)-1] = append(tiers[len(tiers)-1], c)
				continue
			}
		}
		tiers = append(tiers, failTier{c})
	}
	return tiers
}()

// mergeQuery is the query of rows [offset, offset+limit) of the failing
// rows of cats that pass the filter (conds, args), in the order of key (a
// column the cats' page indexes order by after category), then id,
// descending with desc: one arm per category, merged. cols are the columns
// it selects (id and key among them): with id and key alone the merge
// reads nothing but the page indexes.
func mergeQuery(cats []health.Category, cols, key string, desc bool, conds []string, args []any, limit, offset int) (string, []any) {
	dir := "ASC"
	if desc {
		dir = "DESC"
	}
	where := "category = ? AND failing = 1"
	if len(conds) > 0 {
		where += " AND " + strings.Join(conds, " AND ")
	}
	arms := make([]string, len(cats))
	var all []any
	for i, c := range cats {
		arms[i] = `SELECT ` + cols + ` FROM connections WHERE ` + where
		all = append(append(all, string(c)), args...)
	}
	return strings.Join(arms, " UNION ALL ") + ` ORDER BY ` + key + ` ` + dir + `, id ` + dir + ` LIMIT ? OFFSET ?`,
		append(all, limit, offset)
}

// failCountQuery counts the failing rows of cats that pass the filter
// (conds, args), from a page index of the categories (they carry search),
// not the table.
func failCountQuery(cats []health.Category, conds []string, args []any) (string, []any) {
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cats)), ", ")
	var all []any
	for _, c := range cats {
		all = append(all, string(c))
	}
	q := `SELECT COUNT(*) FROM connections WHERE category IN (` + marks + `) AND failing = 1`
	if len(conds) > 0 {
		q += " AND " + strings.Join(conds, " AND ")
	}
	return q, append(all, args...)
}

// directOffset is the deepest offset a merge reads the page's rows at
// directly: the rows an OFFSET steps over are read whole, from the table,
// so a deeper one merges ids from the indexes alone and reads the page's
// rows by id after it (a statement more).
const directOffset = 256

// allFailingPage is a page of GroupAllFailing (see the top of this file).
// Its statements are not one transaction (each would hold one of the
// store's four connections the longer, while the sessions of a hub re-read
// on every stored webhook): a change between the counts a page skips by and
// its rows can shift it by the rows changed, which the change's notice
// reads again.
func (s *Store) allFailingPage(ctx context.Context, q PageQuery) ([]Connection, error) {
	out, err := s.allFailingRows(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: reading a page of failing connections: %w", err)
	}
	var ids []int64
	for _, r := range out {
		if !r.whole {
			ids = append(ids, r.ID)
		}
	}
	page := make([]Connection, 0, len(out))
	if len(ids) == 0 {
		for _, r := range out {
			page = append(page, r.Connection)
		}
		return page, nil
	}
	byID, err := s.connectionsByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("store: reading a page of failing connections: %w", err)
	}
	for _, r := range out {
		c := r.Connection
		if !r.whole {
			var ok bool
			if c, ok = byID[r.ID]; !ok {
				continue // deleted since
			}
		}
		page = append(page, c)
	}
	return page, nil
}

// pageRow is a row of a merge: whole, or (merged from the indexes alone,
// deeper than directOffset) its ID alone.
type pageRow struct {
	Connection
	whole bool
}

// allFailingRows are q's page of GroupAllFailing, in order.
func (s *Store) allFailingRows(ctx context.Context, q PageQuery) ([]pageRow, error) {
	conds, args := q.filterConds()
	// Without a filter every category's size is in counts: a range wholly
	// before the page is skipped by it, and one nearer its end is read
	// from the end. They are read for a page past the first only. With a
	// filter a size is counted only when a tier turns out to lie wholly
	// before the page.
	var sizes map[health.Category]int
	if len(conds) == 0 && q.Offset > 0 {
		var err error
		if sizes, err = s.failingSizes(ctx); err != nil {
			return nil, err
		}
	}
	size := func(cats []health.Category) int {
		if sizes == nil {
			return -1
		}
		n := 0
		for _, c := range cats {
			n += sizes[c]
		}
		return n
	}
	switch q.Sort {
	case SortName, SortInstitution:
		key := "name"
		if q.Sort == SortInstitution {
			key = "institution_key"
		}
		return s.merged(ctx, failingCats, key, q.Desc, conds, args, q.Limit, q.Offset, size(failingCats))
	}
	tiers := failTiers
	if q.Desc {
		tiers = slices.Clone(tiers)
		slices.Reverse(tiers)
	}
	var out []pageRow
	offset, limit := q.Offset, q.Limit
	for _, t := range tiers {
		if limit <= 0 {
			break
		}
		n := size(t)
		if n >= 0 && n <= offset {
			offset -= n
			continue
		}
		got, err := s.merged(ctx, t, "first_failed_at", q.Desc, conds, args, limit, offset, n)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
		switch {
		case len(got) > 0:
			offset, limit = 0, limit-len(got)
		case offset > 0 && n < 0: // the tier lies wholly before the page (or is empty)
			cq, cargs := failCountQuery(t, conds, args)
			if err := s.db.QueryRowContext(ctx, cq, cargs...).Scan(&n); err != nil {
				return nil, fmt.Errorf("counting failing connections: %w", err)
			}
			offset -= min(n, offset)
		}
	}
	return out, nil
}

// mergeCols are the columns a merge on key selects: the id and the key, or
// the whole row (connColumns). A compound SELECT orders by its result
// columns, so a key that is not one of connColumns (institution_key) is
// selected after them (keyed), for the scan to skip.
func mergeCols(key string, whole bool) (cols string, keyed bool) {
	if !whole {
		return "id, " + key, false
	}
	if slices.Contains(connColumnNames(), key) {
		return connColumns, false
	}
	return connColumns + ", " + key, true
}

// merged reads the rows mergeQuery selects: whole up to directOffset, else
// by id alone. n, when not negative, is how many rows the merge has (from
// counts): a page nearer the end is read backwards from there, so a jump to
// the end steps over the fewer rows.
func (s *Store) merged(ctx context.Context, cats []health.Category, key string, desc bool, conds []string, args []any, limit, offset, n int) ([]pageRow, error) {
	reverse := n >= 0 && offset > n/2
	if reverse {
		end := min(n, offset+limit)
		if end <= offset {
			return nil, nil
		}
		offset, limit, desc = n-end, end-offset, !desc
	}
	whole := offset <= s.directOffset
	cols, keyed := mergeCols(key, whole)
	mq, margs := mergeQuery(cats, cols, key, desc, conds, args, limit, offset)
	rows, err := s.db.QueryContext(ctx, mq, margs...)
	if err != nil {
		return nil, fmt.Errorf("merging the failing categories' pages: %w", err)
	}
	defer rows.Close()
	var out []pageRow
	for rows.Next() {
		r := pageRow{whole: whole}
		switch {
		case keyed:
			r.Connection, err = scanConnection(skipLast{rows})
		case whole:
			r.Connection, err = scanConnection(rows)
		default:
			var k any
			err = rows.Scan(&r.ID, &k)
		}
		if err != nil {
			return nil, fmt.Errorf("merging the failing categories' pages: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("merging the failing categories' pages: %w", err)
	}
	if reverse {
		slices.Reverse(out)
	}
	return out, nil
}

// failingSizes is the number of failing rows in each failing category,
// from counts.
func (s *Store) failingSizes(ctx context.Context) (map[health.Category]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT category, SUM(n) FROM counts WHERE category IN (`+failingCategories+`) GROUP BY category`)
	if err != nil {
		return nil, fmt.Errorf("reading the failing categories' counts: %w", err)
	}
	defer rows.Close()
	sizes := map[health.Category]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return nil, fmt.Errorf("reading the failing categories' counts: %w", err)
		}
		sizes[health.Category(c)] = n
	}
	return sizes, rows.Err()
}

// connectionsByID reads the connections of ids that are still stored.
func (s *Store) connectionsByID(ctx context.Context, ids []int64) (map[int64]Connection, error) {
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections WHERE id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[int64]Connection, len(ids))
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		byID[c.ID] = c
	}
	return byID, rows.Err()
}
