package institution

import (
	"slices"
	"strings"
	"testing"
)

// TestACobaltInstitutionIsNamedByItsEHRAndOrganisation: an
// emr_instance_domain reads as the EHR and the organisation, from an
// organisation's own instance or one its vendor hosts; a host that names
// no EHR we know is the host, and no URL's scheme, credentials, port or
// path ever shows.
func TestACobaltInstitutionIsNamedByItsEHRAndOrganisation(t *testing.T) {
	for _, tc := range []struct{ domain, want string }{
		// what the demo and the sandbox seed
		{"https://ecw.northside-clinic.example", "eClinicalWorks · northside-clinic"},
		{"https://epic.valleyhealth.example", "Epic · valleyhealth"},
		{"https://athena.riverside.example", "athenahealth · riverside"},
		{"https://ecw.lakeview-family.example", "eClinicalWorks · lakeview-family"},
		{"mychart.northwell.example", "Epic · northwell"},
		{"https://ehr.example-clinic.com", "ehr.example-clinic.com"},
		// instances the vendors host
		{"https://nyorthoapp.ecwcloud.com/mobiledoc/jsp/webemr/login/newLogin.jsp", "eClinicalWorks · nyorthoapp"},
		{"https://epicproxy.et1234.epichosted.com/", "Epic · et1234"},
		{"https://athenanet.athenahealth.com/1/195900/login.esp", "athenahealth"},
		{"https://stlukes.cernerworks.com", "Oracle Health · stlukes"},
		{"https://millennium.stmarys.nhs.uk", "Oracle Health · stmarys"},
		{"https://summitortho.nextgen.com", "NextGen · summitortho"},
		// an organisation's own instance, however written
		{"HTTPS://EpicWeb.UCSF.edu:8443/Hyperspace?x=1#top", "Epic · ucsf"},
		{"https://dana:hunter2@ecw.northside-clinic.example/", "eClinicalWorks · northside-clinic"},
		{"  ecw.northside-clinic.example.  ", "eClinicalWorks · northside-clinic"},
		// nothing we know
		{"https://ehr.riverside-clinic.org/login", "ehr.riverside-clinic.org"},
		{"https://10.0.4.12:8080/emr", "10.0.4.12"},
		{"https://[2001:db8::1]:443/", "[2001:db8::1]"},
		{"https://epic.org", "epic.org"}, // the organisation is Epic; not an instance
		{"Northside Clinic", "Northside Clinic"},
		{"", ""},
	} {
		got := Name("cobalt", tc.domain)
		if got != tc.want {
			t.Errorf("Name(cobalt, %q) = %q, want %q", tc.domain, got, tc.want)
		}
		if strings.Contains(got, "://") || strings.Contains(got, "hunter2") {
			t.Errorf("Name(cobalt, %q) = %q shows a URL's scheme or password", tc.domain, got)
		}
	}
}

// TestABanksNameIsShownAsItIs: only Cobalt's institutions are EHR domains.
func TestABanksNameIsShownAsItIs(t *testing.T) {
	for _, p := range []string{"plaid", "belvo"} {
		for _, raw := range []string{"First Platypus Bank", "erebor_mx_retail", "epic.bank.example"} {
			if got := Name(p, raw); got != raw {
				t.Errorf("Name(%s, %q) = %q, want it unchanged", p, raw, got)
			}
		}
	}
}

// TestInstitutionsSortByTheNameShown: the sort key of each institution,
// and the order they take, is that of what the table shows, ignoring the
// case of ASCII letters; raw Cobalt domains would sort every EHR under h.
func TestInstitutionsSortByTheNameShown(t *testing.T) {
	keys := map[[2]string]string{
		{"plaid", "Tartan Bank"}:                           "tartan bank",
		{"belvo", "banco_azul_mx"}:                         "banco_azul_mx",
		{"plaid", "Ñandú Crédito"}:                         "Ñandú crédito",
		{"cobalt", "https://ecw.northside-clinic.example"}: "eclinicalworks · northside-clinic",
		{"cobalt", "https://epic.valleyhealth.example"}:    "epic · valleyhealth",
		{"cobalt", "https://ehr.unknown-vendor.example"}:   "ehr.unknown-vendor.example",
	}
	for in, want := range keys {
		if got := SortKey(in[0], in[1]); got != want {
			t.Errorf("SortKey(%s, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
	rows := [][2]string{
		{"plaid", "Tartan Bank"},
		{"cobalt", "https://epic.valleyhealth.example"},
		{"belvo", "banco_azul_mx"},
		{"cobalt", "https://ecw.northside-clinic.example"},
		{"plaid", "First Platypus Bank"},
	}
	slices.SortFunc(rows, func(a, b [2]string) int { return strings.Compare(SortKey(a[0], a[1]), SortKey(b[0], b[1])) })
	var shown []string
	for _, r := range rows {
		shown = append(shown, Name(r[0], r[1]))
	}
	want := []string{"banco_azul_mx", "eClinicalWorks · northside-clinic", "Epic · valleyhealth", "First Platypus Bank", "Tartan Bank"}
	if !slices.Equal(shown, want) {
		t.Errorf("sorted by SortKey: %q\nwant %q", shown, want)
	}
}

// TestFitKeepsTheOrganisationLongest: where the full name does not fit, the
// vendor's short name goes first, then the cut (with its ellipsis), so the
// organisation that tells two clinics apart stays as long as it can.
func TestFitKeepsTheOrganisationLongest(t *testing.T) {
	const ecw = "https://ecw.northside-clinic.example"
	for _, tc := range []struct {
		provider, raw string
		w             int
		want          string
	}{
		{"cobalt", ecw, 40, "eClinicalWorks · northside-clinic"},
		{"cobalt", ecw, 33, "eClinicalWorks · northside-clinic"},
		{"cobalt", ecw, 32, "eCW · northside-clinic"},
		{"cobalt", ecw, 22, "eCW · northside-clinic"},
		{"cobalt", ecw, 17, "eCW · northside-…"},
		{"cobalt", "https://epic.valleyhealth.example", 12, "Epic · vall…"},
		{"cobalt", "https://ehr.riverside-clinic.org", 12, "ehr.riversi…"},
		{"plaid", "First Platypus Bank", 12, "First Platy…"},
		{"plaid", "First Platypus Bank", 19, "First Platypus Bank"},
	} {
		if got := Fit(tc.provider, tc.raw, tc.w, "…"); got != tc.want {
			t.Errorf("Fit(%s, %q, %d) = %q, want %q", tc.provider, tc.raw, tc.w, got, tc.want)
		}
	}
}

func TestSynonymsAreTheHostWordsOfTheNamesShown(t *testing.T) {
	for _, tc := range []struct {
		word string
		want []string // among the synonyms
		not  []string
	}{
		{word: "eClinical", want: []string{"ecw", "ecwcloud.com"}, not: []string{"epic"}},
		{word: "oracle", want: []string{"cerner", "cernerworks.com"}},
		{word: "health", want: []string{"athena", "cerner"}}, // athenahealth, Oracle Health
		{word: "ep", want: nil},        // too short to stand for anything
		{word: "northside", want: nil}, // an organisation is in the host already
	} {
		got := Synonyms(tc.word)
		if tc.want == nil && got != nil {
			t.Errorf("Synonyms(%q) = %v, want none", tc.word, got)
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("Synonyms(%q) = %v, want %q among them", tc.word, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("Synonyms(%q) = %v, want no %q", tc.word, got, w)
			}
		}
	}
}
