package store

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/relink/relink/health"
)

// seedAllFailing fills s with failing rows in several categories, tiers
// of two categories included (login_required and consent_expired share
// remindable and rank), with names, institutions and first failures that
// repeat across categories, so that only the id breaks many ties; and a
// few healthy rows, which no page of failing rows may show.
func seedAllFailing(t *testing.T, s *Store) {
	t.Helper()
	cats := []health.Category{health.LoginRequired, health.ConsentExpired, health.AccountLocked, health.MFARequired,
		health.ActionAtInstitution, health.PermissionRevoked, health.RateLimited, health.ProviderError, health.Healthy}
	names := []string{"Ana", "Bob", "Ana", "Zoe", "mia", "Bob"}
	insts := []string{"Chase", "Banco Azul", "Wells Fargo", "Chase"}
	var regs []Registration
	var obsv []Observation
	for i := range 130 {
		id := fmt.Sprintf("p%03d", i)
		regs = append(regs, Registration{Provider: "plaid", ProviderID: id, UserRef: "u" + id,
			Name: names[i%len(names)], Email: id + "@example.com", Institution: insts[(i/3)%len(insts)]})
		// i/5: five rows in a row share a first failure, each in another category.
		obsv = append(obsv, obs("plaid", id, cats[(i*7)%len(cats)], (i/5)%9, "poll"))
	}
	importRows(t, s, regs...)
	mustApply(t, s, obsv...)
}

// TestAllFailingPagesMatchOneSortedRead: every page of the all-failing
// group, in every order and direction, with and without a filter, at
// offsets across the whole group (the ends, the middle where a merge turns
// to read from the end, the edges of the tiers), is the page the one
// query over every failing row would give: the old query, read without an
// index and sorted. Its count too.
//
// It reads some 20,000 pages on one goroutine; under the race detector,
// which has nothing to find here and slows SQLite thirtyfold (240 s), it
// reads only the pages that mix both ways, at every third offset and the
// last ones.
func TestAllFailingPagesMatchOneSortedRead(t *testing.T) {
	s := openTest(t)
	seedAllFailing(t, s)
	// The merges read whole rows up to s.directOffset, ids from deeper:
	// read every page both ways, and with the ways mixed in one page.
	directs := []int{directOffset, 0, 10}
	if raceDetector {
		directs = []int{10}
	}
	for _, direct := range directs {
		s.directOffset = direct
		limits, step := []int{1, 7, 50}, 1
		if direct != directOffset {
			limits = []int{7}
		}
		if raceDetector {
			step = 3
		}
		checkAllFailingPages(t, s, limits, step)
	}
}

// checkAllFailingPages compares the pages of each limit at every step-th
// offset, and at the last three offsets and the two past the end.
func checkAllFailingPages(t *testing.T, s *Store, limits []int, step int) {
	t.Helper()
	ctx := context.Background()
	all := Group{Kind: GroupAllFailing}
	for _, filter := range []string{"", "chase", "bob wells", "ana", "nobody"} {
		for _, sort := range []Sort{SortSince, SortName, SortInstitution} {
			for _, desc := range []bool{false, true} {
				base := PageQuery{Group: all, Filter: filter, Sort: sort, Desc: desc}
				every := reference(t, s, base, 1000, 0)
				if filter == "" && len(every) < 100 || filter == "chase" && len(every) < 20 {
					t.Fatalf("the seed has too few failing rows: %d for %q", len(every), filter)
				}
				n, err := s.CountPage(ctx, base)
				if err != nil {
					t.Fatal(err)
				}
				if n != len(every) {
					t.Errorf("%q: count %d, want %d", filter, n, len(every))
				}
				for _, limit := range limits {
					for offset := 0; offset <= len(every)+2; offset++ {
						if offset%step != 0 && offset < len(every)-3 {
							continue
						}
						q := base
						q.Limit, q.Offset = limit, offset
						got, err := s.Page(ctx, q)
						if err != nil {
							t.Fatal(err)
						}
						want := every[min(offset, len(every)):min(offset+limit, len(every))]
						if g := ids(got); !slices.Equal(g, want) {
							t.Fatalf("%q sort %v desc %v limit %d offset %d (whole rows to offset %d):\n got %v\nwant %v",
								filter, sort, desc, limit, offset, s.directOffset, g, want)
						}
						for i, c := range got {
							if c.Provider != "plaid" || c.Name == "" || !c.Health.Category.Failing() {
								t.Fatalf("offset %d row %d not read whole: %+v", offset, i, c)
							}
						}
					}
				}
			}
		}
	}
}

// reference is the page the one query over every failing row gives, read
// without an index (so sorted, and not served by the merge).
func reference(t *testing.T, s *Store, q PageQuery, limit, offset int) []int64 {
	t.Helper()
	where, args := q.where()
	rows, err := s.db.Query(`SELECT id FROM connections NOT INDEXED WHERE `+where+` ORDER BY `+q.orderBy()+` LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func ids(cs []Connection) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// TestFailTiersMatchTheStore: the tiers the longest-failing order takes the
// categories in are the store's remindable and rank, as Apply writes them,
// in the order of the query over every failing row.
func TestFailTiersMatchTheStore(t *testing.T) {
	s := openTest(t)
	for i, cat := range failingCats {
		o := obs("belvo", fmt.Sprintf("t%d", i), cat, 0, "poll")
		o.Register = true
		mustApply(t, s, o)
	}
	rows, err := s.db.Query(`SELECT DISTINCT remindable, rank, category FROM connections WHERE failing = 1 ORDER BY remindable DESC, rank DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var stored []string
	var last string
	for rows.Next() {
		var rem, rank int
		var cat string
		if err := rows.Scan(&rem, &rank, &cat); err != nil {
			t.Fatal(err)
		}
		if k := fmt.Sprint(rem, rank); k != last {
			stored, last = append(stored, "|"), k
		}
		stored = append(stored, cat)
	}
	var tiers []string
	for _, tier := range failTiers {
		tiers = append(tiers, "|")
		cats := slices.Clone(tier)
		slices.Sort(cats)
		for _, c := range cats {
			tiers = append(tiers, string(c))
		}
	}
	// Within a tier the store's order is arbitrary: compare each tier sorted.
	sortTiers := func(xs []string) string {
		var out, cur []string
		flush := func() { slices.Sort(cur); out, cur = append(out, cur...), nil }
		for _, x := range xs {
			if x == "|" {
				flush()
				out = append(out, x)
				continue
			}
			cur = append(cur, x)
		}
		flush()
		return strings.Join(out, " ")
	}
	if got, want := sortTiers(tiers), sortTiers(stored); got != want {
		t.Errorf("tiers %s\nstore %s", got, want)
	}
}

// TestAllFailingPlansMerge: a page of all failing rows merges its
// categories' page indexes, each arm in its own index's order, nothing
// sorted; its filtered count reads a page index. Neither the merge of ids
// nor the count reads the table:
// the ids, the columns they order by and search are in the page indexes
// (the planner calls an index that a filter on the generated search column
// uses not covering, but reads search from the index).
func TestAllFailingPlansMerge(t *testing.T) {
	s := openTest(t)
	filter := PageQuery{Filter: "wells fargo"}
	conds, args := filter.filterConds()
	for _, c := range []struct {
		key, index string
		cats       []health.Category
	}{
		{"name", "connections_cat_name", failingCats},
		{"institution_key", "connections_cat_inst", failingCats},
		{"first_failed_at", "connections_cat_since", failTiers[2]},
		{"first_failed_at", "connections_cat_since", failTiers[0]},
	} {
		arm := regexp.MustCompile(`SEARCH connections USING (COVERING )?INDEX ` + c.index + ` \(category=\?\)`)
		for _, desc := range []bool{false, true} {
			for _, f := range []bool{false, true} {
				fc, fa := []string(nil), []any(nil)
				if f {
					fc, fa = conds, args
				}
				for _, whole := range []bool{false, true} {
					cols, _ := mergeCols(c.key, whole)
					q, qargs := mergeQuery(c.cats, cols, c.key, desc, fc, fa, 50, 1000)
					plan := explain(t, s.db, q, qargs...)
					uses := len(arm.FindAllString(plan, -1))
					if uses != len(c.cats) || strings.Contains(plan, "TEMP B-TREE") || len(c.cats) > 1 && !strings.Contains(plan, "MERGE (UNION ALL)") {
						t.Errorf("%s desc %v filter %v: %d of %d arms on %s; plan:\n%s", c.key, desc, f, uses, len(c.cats), c.index, plan)
					}
					if n := tableReads(t, s, q, qargs...); !whole && n > 0 {
						t.Errorf("%s desc %v filter %v: %d columns read from the table", c.key, desc, f, n)
					}
				}
			}
		}
	}
	q, qargs := failCountQuery(failingCats, conds, args)
	plan := explain(t, s.db, q, qargs...)
	if !regexp.MustCompile(`SEARCH connections USING (COVERING )?INDEX connections_cat_`).MatchString(plan) {
		t.Errorf("filtered count plan:\n%s", plan)
	}
	if n := tableReads(t, s, q, qargs...); n > 0 {
		t.Errorf("the filtered count reads %d columns from the table", n)
	}
}

// tableReads counts the columns q's bytecode reads from a table (not an
// index) cursor: a row an index entry leads to is only sought (a
// DeferredSeek) when one is read.
func tableReads(t *testing.T, s *Store, q string, args ...any) int {
	t.Helper()
	rows, err := s.db.Query("EXPLAIN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	tables := map[int64]bool{}
	n := 0
	for rows.Next() {
		var addr, p1, p2, p3, p5 int64
		var op string
		var p4, comment any
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		switch op {
		case "OpenRead":
			if k, ok := p4.(string); !ok || !strings.HasPrefix(k, "k(") {
				tables[p1] = true // a table's p4 is its number of columns; an index's its key
			}
		case "Column":
			if tables[p1] {
				n++
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigration0009DropsTheAllFailingIndexes: a new failure is written into
// the three page indexes of its category alone, and no query plans on the
// dropped ones.
func TestMigration0009DropsTheAllFailingIndexes(t *testing.T) {
	s := openTest(t)
	rows, err := s.db.Query(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'connections' AND sql LIKE '%WHERE failing = 1%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if want := "connections_cat_inst connections_cat_name connections_cat_since"; strings.Join(got, " ") != want {
		t.Errorf("the failing rows' page indexes: %q, want %q", got, want)
	}
	if n := tableReads(t, s, `SELECT email FROM connections WHERE category = 'mfa_required' AND failing = 1`); n == 0 {
		t.Error("tableReads missed a column read from the table")
	}
}

// TestAllFailingPageWhileAWriterWrites: a page of all failing rows takes
// no write lock (the store's transactions BEGIN IMMEDIATE: a page read in
// one waited for the writer), so it reads while a writer holds one
// (webhooks are stored all the time), and it sees the rows as they were
// before the writer's commit, deep pages (read by id) too.
func TestAllFailingPageWhileAWriterWrites(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seedAllFailing(t, s)
	q := PageQuery{Group: Group{Kind: GroupAllFailing}, Sort: SortName, Limit: 5}
	before, err := s.Page(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	deep := q
	deep.Offset = 3
	deepBefore, err := s.Page(ctx, deep)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if _, err := w.ExecContext(ctx, `UPDATE connections SET name = 'Aaron' WHERE failing = 1`); err != nil {
		t.Fatal(err)
	}
	got, err := s.Page(ctx, q)
	if err != nil {
		t.Fatalf("a page while a writer holds the lock: %v", err)
	}
	if !slices.Equal(ids(got), ids(before)) || names(got) != names(before) {
		t.Errorf("while a writer writes: %q, want %q", names(got), names(before))
	}
	s.directOffset = 0 // offset 3 is read by id
	if got, err = s.Page(ctx, deep); err != nil {
		t.Fatalf("a page by id while a writer holds the lock: %v", err)
	}
	if !slices.Equal(ids(got), ids(deepBefore)) || names(got) != names(deepBefore) {
		t.Errorf("by id while a writer writes: %q, want %q", names(got), names(deepBefore))
	}
}
