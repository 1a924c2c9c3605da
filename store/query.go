package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/relink/relink/health"
)

// GroupKind selects the rows of a dashboard group.
type GroupKind int

// The kinds of group.
const (
	GroupCategory   GroupKind = iota // failing connections of one category
	GroupAllFailing                  // every failing connection: what a reminder can fix first, then worst first
	GroupExpiring                    // connections with a warning, soonest deadline first, none last
	GroupEveryone                    // every connection in any state, found by the filter (find.go)
)

// Group is one dashboard group.
type Group struct {
	Kind     GroupKind
	Category health.Category // for GroupCategory
}

// Sort is a page's order.
type Sort int

// The orders a page can take; each is served by an index. Each is named
// after the dashboard's column it sorts by.
const (
	SortSince       Sort = iota // longest failing first (expiring: soonest deadline first)
	SortName                    // by user name
	SortInstitution             // by institution
)

// sortNames are the names of the sorts: the titles of the columns they sort by.
var sortNames = [...]string{"failing", "user", "institution"}

func (s Sort) String() string {
	if int(s) < len(sortNames) {
		return sortNames[s]
	}
	return sortNames[SortSince]
}

// Next cycles to the next sort.
func (s Sort) Next() Sort { return (s + 1) % Sort(len(sortNames)) }

// PageQuery asks for one page of a group.
type PageQuery struct {
	Group  Group
	Filter string // substring of name, email, institution, ids, codes; case-insensitive
	// Synonyms, when set, gives other words that also satisfy a word of the
	// filter (lower case): what the screen shows for a raw value the store
	// keeps, such as a Cobalt EHR's name for the hosts of its instances
	// ("eclinical" → "ecw", "ecwcloud.com"). Nil: the words alone.
	Synonyms func(word string) []string
	Sort     Sort
	Desc     bool
	Offset   int
	Limit    int
}

// where is the query's group and filter as one condition. A page of all
// failing rows is not read with it (allfailing.go merges the categories'
// pages) but must equal the read with where and orderBy.
func (q PageQuery) where() (string, []any) {
	var conds []string
	var args []any
	switch q.Group.Kind {
	case GroupCategory:
		conds, args = append(conds, "failing = 1", "category = ?"), append(args, string(q.Group.Category))
	case GroupAllFailing:
		conds = append(conds, "failing = 1")
	case GroupExpiring:
		conds = append(conds, "warning != ''")
	}
	fconds, fargs := q.filterConds()
	return strings.Join(append(conds, fconds...), " AND "), append(args, fargs...)
}

// filterConds are the conditions of the query's filter alone, to be AND'ed
// to a group's: every word of the filter must occur in the connection's
// search text (name, email, institution, provider, ids, category or
// warning, codes: what the table shows), in any order, or one of its
// synonyms must.
func (q PageQuery) filterConds() ([]string, []any) {
	var conds []string
	var args []any
	for _, word := range strings.Fields(strings.ToLower(q.Filter)) {
		alts := []string{word}
		if q.Synonyms != nil {
			alts = append(alts, q.Synonyms(word)...)
		}
		var either []string
		for _, w := range alts {
			either = append(either, "search LIKE ? ESCAPE '\\'")
			args = append(args, "%"+escapeLike(w)+"%")
		}
		if len(either) == 1 {
			conds = append(conds, either[0])
		} else {
			conds = append(conds, "("+strings.Join(either, " OR ")+")")
		}
	}
	return conds, args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (q PageQuery) orderBy() string {
	dir, rdir := "ASC", "DESC"
	if q.Desc {
		dir, rdir = rdir, dir
	}
	switch q.Sort {
	case SortName:
		return "name " + dir + ", id " + dir
	case SortInstitution:
		return "institution_key " + dir + ", id " + dir
	}
	switch q.Group.Kind {
	case GroupExpiring:
		// A warning without a deadline (a password change due) has no
		// date to run out: it comes after every dated one.
		return "deadline IS NULL " + dir + ", deadline " + dir + ", id " + dir
	case GroupAllFailing:
		// What a reminder can fix first, so that the first row on screen is
		// one the first key a newcomer tries (r) works on; then worst first.
		return "remindable " + rdir + ", rank " + rdir + ", first_failed_at " + dir + ", id " + dir
	}
	return "first_failed_at " + dir + ", id " + dir
}

// Page returns one page of a group, ordered and filtered.
func (s *Store) Page(ctx context.Context, q PageQuery) ([]Connection, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	switch q.Group.Kind {
	case GroupEveryone:
		return s.findPage(ctx, q)
	case GroupAllFailing:
		return s.allFailingPage(ctx, q)
	}
	where, args := q.where()
	rows, err := s.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections WHERE `+where+
		` ORDER BY `+q.orderBy()+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("store: reading a page of connections: %w", err)
	}
	defer rows.Close()
	var out []Connection
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, fmt.Errorf("store: reading a page of connections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountPage counts the rows of a page query's group and filter. Without a
// filter it reads the maintained counts; with one it scans the group's
// index (all failing: the failing categories' ranges of a page index).
func (s *Store) CountPage(ctx context.Context, q PageQuery) (int, error) {
	if q.Group.Kind == GroupEveryone {
		return s.findCount(ctx, q.Filter)
	}
	if strings.TrimSpace(q.Filter) == "" && q.Group.Kind == GroupCategory {
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM counts WHERE category = ?`, string(q.Group.Category)).Scan(&n)
		return n, err
	}
	if strings.TrimSpace(q.Filter) == "" && q.Group.Kind == GroupAllFailing {
		// The counts' rows of the failing categories: a dozen rows per
		// provider and institution, not a scan of every failing one.
		var n int
		err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM counts WHERE category IN (`+failingCategories+`)`).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("store: counting failing connections: %w", err)
		}
		return n, nil
	}
	if q.Group.Kind == GroupAllFailing {
		conds, args := q.filterConds()
		cq, cargs := failCountQuery(failingCats, conds, args)
		var n int
		if err := s.db.QueryRowContext(ctx, cq, cargs...).Scan(&n); err != nil {
			return 0, fmt.Errorf("store: counting failing connections: %w", err)
		}
		return n, nil
	}
	where, args := q.where()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM connections WHERE `+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: counting connections: %w", err)
	}
	return n, nil
}

// failingCats are the categories health calls failing (failing = 1 in
// connections), worst first: every failing row's category is one of them.
var failingCats = func() []health.Category {
	var cats []health.Category
	for _, c := range health.Categories() {
		if c.Failing() {
			cats = append(cats, c)
		}
	}
	return cats
}()

// failingCategories is failingCats as an SQL list.
var failingCategories = func() string {
	var quoted []string
	for _, c := range failingCats {
		quoted = append(quoted, "'"+string(c)+"'")
	}
	return strings.Join(quoted, ", ")
}()

// Counts summarises the cache for the dashboard's groups.
type Counts struct {
	ByCategory map[health.Category]int
	Failing    int // sum over failing categories
	Expiring   int // connections with a warning
	Total      int
}

// Counts reads the per-category counts (kept by triggers) and the number of
// connections with a warning (a partial index).
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	c := Counts{ByCategory: map[health.Category]int{}}
	rows, err := s.db.QueryContext(ctx, `SELECT category, SUM(n) FROM counts GROUP BY category`)
	if err != nil {
		return c, fmt.Errorf("store: reading counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cat string
		var n int
		if err := rows.Scan(&cat, &n); err != nil {
			return c, fmt.Errorf("store: reading counts: %w", err)
		}
		if n == 0 {
			continue
		}
		c.ByCategory[health.Category(cat)] = n
		c.Total += n
		if health.Category(cat).Failing() {
			c.Failing += n
		}
	}
	if err := rows.Err(); err != nil {
		return c, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM connections WHERE warning != ''`).Scan(&c.Expiring)
	if err != nil {
		return c, fmt.Errorf("store: counting warnings: %w", err)
	}
	return c, nil
}

// Breakdown is one provider and institution's share of a category.
type Breakdown struct {
	Provider    string
	Institution string
	N           int
}

// Breakdown lists a category's connections per provider and institution,
// largest first (a spike at one institution is an outage, not 40 users).
// An empty category means every failing category.
func (s *Store) Breakdown(ctx context.Context, cat health.Category, limit int) ([]Breakdown, error) {
	if limit <= 0 {
		limit = 20
	}
	var rows *sql.Rows
	var err error
	if cat == "" {
		var failing []any
		var marks []string
		for _, c := range health.Categories() {
			if c.Failing() {
				failing, marks = append(failing, string(c)), append(marks, "?")
			}
		}
		rows, err = s.db.QueryContext(ctx, `SELECT provider, institution, SUM(n) AS t FROM counts
			WHERE category IN (`+strings.Join(marks, ",")+`) GROUP BY provider, institution HAVING t > 0
			ORDER BY t DESC, institution LIMIT ?`, append(failing, limit)...)
	} else {
		rows, err = s.db.QueryContext(ctx, `SELECT provider, institution, n FROM counts WHERE category = ? AND n > 0
			ORDER BY n DESC, institution LIMIT ?`, string(cat), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("store: reading the institution breakdown: %w", err)
	}
	defer rows.Close()
	var out []Breakdown
	for rows.Next() {
		var b Breakdown
		if err := rows.Scan(&b.Provider, &b.Institution, &b.N); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// NewFailuresPerDay counts, for each of the last days days up to now (oldest
// first), how many connections of the group started failing that day (UTC).
func (s *Store) NewFailuresPerDay(ctx context.Context, g Group, now time.Time, days int) ([]int, error) {
	out := make([]int, max(days, 0))
	if days <= 0 {
		return out, nil
	}
	start := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(days - 1))
	q, args := newFailuresQuery(g, start, days)
	dest := make([]any, days)
	for i := range out {
		dest[i] = &out[i]
	}
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("store: counting new failures per day: %w", err)
	}
	return out, nil
}

// newFailuresQuery counts g's connections whose first failure falls in
// each of days days from start: one COUNT per day over its range of
// connections_cat_since, so every entry of the window is stepped over once
// and nothing is sorted (a GROUP BY on the day sorted them all, and a
// webhook storm adds thousands to today). Every failing row's category is
// one of failingCategories: naming them lets the all-failing count seek the
// index per category instead of reading every failing row.
func newFailuresQuery(g Group, start time.Time, days int) (string, []any) {
	cond, catArgs := `category IN (`+failingCategories+`)`, []any(nil)
	if g.Kind == GroupCategory {
		cond, catArgs = `category = ?`, []any{string(g.Category)}
	}
	var q strings.Builder
	var args []any
	q.WriteString("SELECT ")
	for i := range days {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(`(SELECT COUNT(*) FROM connections WHERE failing = 1 AND ` + cond +
			` AND first_failed_at >= ? AND first_failed_at < ?)`)
		from := start.AddDate(0, 0, i)
		args = append(append(args, catArgs...), from.UnixMilli(), from.AddDate(0, 0, 1).UnixMilli())
	}
	return q.String(), args
}

// ListQuery selects connections for `relink ls`.
type ListQuery struct {
	Failing  bool
	Category health.Category
	Provider string
}

// List streams connections to fn, in id order, without loading them all.
func (s *Store) List(ctx context.Context, q ListQuery, fn func(Connection) error) error {
	var conds []string
	var args []any
	if q.Failing {
		conds = append(conds, "failing = 1")
	}
	if q.Category != "" {
		conds = append(conds, "category = ?")
		args = append(args, string(q.Category))
	}
	if q.Provider != "" {
		conds = append(conds, "provider = ?")
		args = append(args, q.Provider)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+connColumns+` FROM connections`+where+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("store: listing connections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return fmt.Errorf("store: listing connections: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ExpiringSummary is the shape of the expiring group: its warnings, and how
// soon their deadlines come.
type ExpiringSummary struct {
	ByWarning  map[health.Warning]int
	Passed     int // the deadline is past; the next check shows what happened
	Within24h  int
	Within7d   int // after the first day, within a week
	Later      int
	NoDeadline int // a warning without a date (a password change due)
}

// Expiring summarises the connections with a warning as of now.
func (s *Store) Expiring(ctx context.Context, now time.Time) (ExpiringSummary, error) {
	e := ExpiringSummary{ByWarning: map[health.Warning]int{}}
	t := now.UnixMilli()
	rows, err := s.db.QueryContext(ctx, `SELECT warning,
		CASE WHEN deadline IS NULL THEN 0 WHEN deadline <= ? THEN 1 WHEN deadline <= ? THEN 2 WHEN deadline <= ? THEN 3 ELSE 4 END AS b,
		COUNT(*) FROM connections WHERE warning != '' GROUP BY warning, b`,
		t, t+24*3600*1000, t+7*24*3600*1000)
	if err != nil {
		return e, fmt.Errorf("store: summarising warnings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var w string
		var b, n int
		if err := rows.Scan(&w, &b, &n); err != nil {
			return e, fmt.Errorf("store: summarising warnings: %w", err)
		}
		e.ByWarning[health.Warning(w)] += n
		switch b {
		case 0:
			e.NoDeadline += n
		case 1:
			e.Passed += n
		case 2:
			e.Within24h += n
		case 3:
			e.Within7d += n
		default:
			e.Later += n
		}
	}
	return e, rows.Err()
}
