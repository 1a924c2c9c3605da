package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/relink/relink/health"
	"github.com/relink/relink/internal/institution"
)

// byInstitution is the order, A to Z, that a list sorted by institution
// must show: the names the table shows (institution.Name), whatever the
// case of their ASCII letters, Cobalt's EHRs among the banks by their names
// and not their https:// domains. A name that starts outside ASCII sorts
// after z (the keys compare as bytes).
var byInstitution = []string{"banco_azul_mx", "eClinicalWorks · northside-clinic", "Epic · valleyhealth", "First Platypus Bank", "Tartan Bank", "Ñandú Crédito"}

var institutionRows = []Registration{
	{Provider: "plaid", ProviderID: "i1", Name: "Ana Tartan", Email: "ana1@example.com", Institution: "Tartan Bank"},
	{Provider: "cobalt", ProviderID: "c1", Name: "Ana Epic", Email: "ana2@example.com", Institution: "https://epic.valleyhealth.example", OrgID: "org"},
	{Provider: "belvo", ProviderID: "l1", Name: "Ana Azul", Email: "ana3@example.com", Institution: "banco_azul_mx"},
	{Provider: "plaid", ProviderID: "i2", Name: "Ana Nandu", Email: "ana4@example.com", Institution: "Ñandú Crédito"},
	{Provider: "cobalt", ProviderID: "c2", Name: "Ana Ecw", Email: "ana5@example.com", Institution: "https://ecw.northside-clinic.example", OrgID: "org"},
	{Provider: "plaid", ProviderID: "i3", Name: "Ana Platypus", Email: "ana6@example.com", Institution: "First Platypus Bank"},
}

func failAll(t *testing.T, s *Store, regs []Registration) {
	t.Helper()
	var o []Observation
	for i, r := range regs {
		o = append(o, obs(r.Provider, r.ProviderID, health.LoginRequired, i, "poll"))
	}
	mustApply(t, s, o...)
}

func shown(cs []Connection) []string {
	var out []string
	for _, c := range cs {
		out = append(out, institution.Name(c.Provider, c.Institution))
	}
	return out
}

// checkInstitutionOrder reads every group a list sorted by institution can
// show, both ways, and compares it with byInstitution.
func checkInstitutionOrder(t *testing.T, s *Store, when string) {
	t.Helper()
	ctx := context.Background()
	desc := slices.Clone(byInstitution)
	slices.Reverse(desc)
	groups := map[string]PageQuery{
		"login_required":        {Group: Group{Kind: GroupCategory, Category: health.LoginRequired}},
		"all failing":           {Group: Group{Kind: GroupAllFailing}},
		"all failing, filtered": {Group: Group{Kind: GroupAllFailing}, Filter: "ana"},
		"everyone found":        {Group: Group{Kind: GroupEveryone}, Filter: "ana"},
	}
	for name, q := range groups {
		for _, d := range []bool{false, true} {
			q.Sort, q.Desc, q.Limit = SortInstitution, d, 50
			want := byInstitution
			if d {
				want = desc
			}
			got, err := s.Page(ctx, q)
			if err != nil {
				t.Fatalf("%s: %s: %v", when, name, err)
			}
			if g := shown(got); !slices.Equal(g, want) {
				t.Errorf("%s: %s sorted by institution (desc %v):\n got %q\nwant %q", when, name, d, g, want)
			}
		}
	}
}

// TestSortByInstitutionIsTheOrderOfTheNamesShown: the table sorted by
// institution lists the institutions in the order of what it shows, in
// every group, both ways, read whole or by id (the all-failing merge), for
// rows imported, registered by a signal, and renamed by one.
func TestSortByInstitutionIsTheOrderOfTheNamesShown(t *testing.T) {
	s := openTest(t)
	importRows(t, s, institutionRows[:4]...)
	// Two registered by a signal (Register), one of them with no
	// institution at first, named by a later signal.
	ecw, platypus := institutionRows[4], institutionRows[5]
	mustApply(t, s,
		Observation{Provider: ecw.Provider, ProviderID: ecw.ProviderID, Register: true, Institution: ecw.Institution,
			Signal: health.Signal{Effect: health.SetPrimary, Category: health.Healthy, Source: health.SourcePoll, ObservedAt: t0}},
		Observation{Provider: platypus.Provider, ProviderID: platypus.ProviderID, Register: true,
			Signal: health.Signal{Effect: health.SetPrimary, Category: health.Healthy, Source: health.SourcePoll, ObservedAt: t0}})
	o := obs(platypus.Provider, platypus.ProviderID, health.Healthy, 1, "poll")
	o.Institution = platypus.Institution
	mustApply(t, s, o)
	ctx := context.Background()
	for i, r := range institutionRows[4:] {
		if _, err := s.db.ExecContext(ctx, `UPDATE connections SET name = ?, email = ? WHERE provider_id = ?`, r.Name, r.Email, r.ProviderID); err != nil {
			t.Fatal(i, err)
		}
	}
	failAll(t, s, institutionRows)
	checkInstitutionOrder(t, s, "read whole")
	s.directOffset = 0
	checkInstitutionOrder(t, s, "read by id")
}

// TestMigration0010OrdersAnExistingCache: connections written before 0010
// get their sort keys from it, Cobalt's from its Go step, and sort as the
// ones written after.
func TestMigration0010OrdersAnExistingCache(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	cacheAt(t, path, 9, func(db *sql.DB) {
		for i, r := range institutionRows {
			if _, err := db.Exec(`INSERT INTO connections (provider, provider_id, name, email, institution, org_id,
				category, failing, rank, first_failed_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, 'login_required', 1, ?, ?, 0, 0)`,
				r.Provider, r.ProviderID, r.Name, r.Email, r.Institution, r.OrgID, health.LoginRequired.Rank(), i); err != nil {
				t.Fatal(err)
			}
		}
	})
	s, err := Open(ctx, path, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range institutionRows {
		var key string
		if err := s.db.QueryRow(`SELECT institution_key FROM connections WHERE provider_id = ?`, r.ProviderID).Scan(&key); err != nil {
			t.Fatal(err)
		}
		if want := institution.SortKey(r.Provider, r.Institution); key != want {
			t.Errorf("%s after 0010: key %q, want %q (as relink writes it)", r.Institution, key, want)
		}
	}
	checkInstitutionOrder(t, s, "after 0010")
}
