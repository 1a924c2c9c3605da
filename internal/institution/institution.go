// Package institution names a connection's institution on screen, alike in
// the dashboard and the command line. A bank's name (Plaid, Belvo) is shown
// as it is; a Cobalt connection's institution is the emr_instance_domain of
// its EHR (COBALT.md §4.1, §6.2), a URL such as
// https://ecw.northside-clinic.example, which is shown as the EHR and the
// organisation, "eClinicalWorks · northside-clinic". The store keeps the
// raw value, and SortKey beside it so that a list sorted by institution is
// in the order of the names shown. Pure, and table-tested.
package institution

import (
	"strings"

	"github.com/relink/relink/internal/textfmt"
)

// Sep stands between the EHR and the organisation.
const Sep = " · "

// Name is how the institution raw of a provider's connection is shown.
func Name(provider, raw string) string {
	if provider != "cobalt" {
		return raw
	}
	return ParseEHR(raw).String()
}

// SortKey is what a list sorted by institution orders by: the name shown
// (Name), its ASCII letters lowered, so that "eClinicalWorks · …" sorts
// under e and not under h as its raw https:// domain would, and "banco_azul"
// among the b's, not after every capital. Only ASCII is lowered, as
// SQLite's lower() does: a key the store's SQL made and one made here agree.
func SortKey(provider, raw string) string {
	name := Name(provider, raw)
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// Fit is Name in at most w cells: the EHR's full name, else its short one
// ("eCW · northside-clinic"), else that cut with tail, so that the
// organisation, which tells two clinics of one EHR apart, is the last to go.
func Fit(provider, raw string, w int, tail string) string {
	if provider != "cobalt" {
		return textfmt.Truncate(raw, w, tail)
	}
	return ParseEHR(raw).Fit(w, tail)
}

// EHR is an emr_instance_domain read as the EHR it belongs to.
type EHR struct {
	Vendor string // "eClinicalWorks"; "" when the host names no EHR we know
	Short  string // "eCW": the vendor when room is short
	Org    string // "northside-clinic"; "" when the host does not tell it (athenanet.athenahealth.com)
	Host   string // the host, lower case, without scheme, credentials, port or path
}

// String is "eClinicalWorks · northside-clinic", the vendor alone when the
// host tells no organisation, and the host for a vendor we do not know.
func (e EHR) String() string { return e.join(e.Vendor) }

// Fit is String in at most w cells, with the short vendor name if the long
// one does not fit, and cut with tail if neither does.
func (e EHR) Fit(w int, tail string) string {
	if s := e.String(); textfmt.Width(s) <= w {
		return s
	}
	if e.Short != "" && e.Short != e.Vendor {
		return textfmt.Truncate(e.join(e.Short), w, tail)
	}
	return textfmt.Truncate(e.String(), w, tail)
}

func (e EHR) join(vendor string) string {
	switch {
	case vendor == "":
		return e.Host
	case e.Org == "":
		return vendor
	}
	return vendor + Sep + e.Org
}

// vendor is an EHR: its names, the words that start a host label of an
// organisation's own instance (ecw.northside-clinic.org, epicweb.ucsf.edu),
// and the domains of the instances it hosts (nyorthoapp.ecwcloud.com).
type vendor struct {
	name, short string
	labels      []string
	domains     []string
}

// vendors are the EHRs Cobalt connects to that we know by their hosts.
// Hosted instances: eClinicalWorks *.ecwcloud.com, Epic Hosting
// *.epichosted.com, athenaOne athenanet.athenahealth.com (the practice is in
// the path, not the host), Oracle Health Millennium *.cernerworks.com and
// *.cerner.com, NextGen *.nextgen.com and *.nextgenoffice.com, and others.
var vendors = []vendor{
	{"eClinicalWorks", "eCW", []string{"ecw", "eclinicalworks"}, []string{"ecwcloud.com", "eclinicalworks.com", "eclinicalweb.com"}},
	{"Epic", "Epic", []string{"epic", "mychart"}, []string{"epichosted.com", "epic.com", "mychart.com"}},
	{"athenahealth", "athena", []string{"athena"}, []string{"athenahealth.com", "athenanet.com"}},
	{"Oracle Health", "Cerner", []string{"cerner", "millennium"}, []string{"cernerworks.com", "cerner.com", "cernerasp.com"}},
	{"NextGen", "NextGen", []string{"nextgen"}, []string{"nextgen.com", "nextgenoffice.com"}},
	{"Veradigm", "Veradigm", []string{"allscripts", "veradigm"}, []string{"allscriptscloud.com", "allscripts.com", "veradigm.com"}},
	{"Greenway", "Greenway", []string{"greenway", "intergy"}, []string{"greenwayhealth.com"}},
	{"ModMed", "ModMed", []string{"modmed"}, []string{"modmed.com"}},
	{"Meditech", "Meditech", []string{"meditech", "expanse"}, []string{"meditech.com", "meditech.cloud"}},
	{"Tebra", "Tebra", []string{"kareo", "tebra"}, []string{"kareo.com", "tebra.com"}},
	{"AdvancedMD", "AdvancedMD", []string{"advancedmd"}, []string{"advancedmd.com"}},
	{"DrChrono", "DrChrono", []string{"drchrono"}, []string{"drchrono.com"}},
	{"Practice Fusion", "PF", []string{"practicefusion"}, []string{"practicefusion.com"}},
	{"Elation", "Elation", []string{"elation"}, []string{"elationemr.com"}},
}

// generic are host labels that name a service, not an organisation.
var generic = map[string]bool{"www": true, "app": true, "apps": true, "web": true, "login": true, "portal": true,
	"secure": true, "ehr": true, "emr": true, "prod": true, "api": true, "static": true, "my": true, "cloud": true}

// secondLevel are the labels under a country's top-level domain that are
// not an organisation: stmarys.nhs.uk is St Mary's, not "nhs".
var secondLevel = map[string]bool{"co": true, "com": true, "org": true, "net": true, "ac": true, "gov": true,
	"nhs": true, "edu": true, "med": true, "health": true}

// ParseEHR reads an emr_instance_domain: a URL or a bare host. Text that is
// not a host (a name typed into the registry) is kept as the Host, trimmed.
func ParseEHR(domain string) EHR {
	host := hostOf(domain)
	e := EHR{Host: host}
	if host == "" || strings.ContainsAny(host, " \t") || !strings.Contains(host, ".") || isIP(host) {
		return e
	}
	labels := strings.Split(host, ".")
	for _, v := range vendors { // an instance the vendor hosts: the labels before its domain
		for _, d := range v.domains {
			if host != d && !strings.HasSuffix(host, "."+d) {
				continue
			}
			e.Vendor, e.Short = v.name, v.short
			sub := labels[:len(labels)-strings.Count(d, ".")-1]
			for i := len(sub) - 1; i >= 0 && e.Org == ""; i-- { // the label nearest the domain
				if l := sub[i]; !generic[l] && !v.names(l) {
					e.Org = l
				}
			}
			return e
		}
	}
	orgAt := orgLabel(labels)
	for _, v := range vendors { // an organisation's own instance: ecw.northside-clinic.example
		for _, l := range labels[:orgAt] {
			if v.names(l) {
				e.Vendor, e.Short, e.Org = v.name, v.short, labels[orgAt]
				return e
			}
		}
	}
	return e
}

// names reports whether a host label names the vendor: it is, or starts
// with, one of its words (ecw, ecwapp, epicweb, athenanet).
func (v vendor) names(label string) bool {
	for _, w := range v.labels {
		if strings.HasPrefix(label, w) {
			return true
		}
	}
	return false
}

// orgLabel is the index of the label that names the organisation: the one
// before the top-level domain, or before a country's second level
// (stmarys.nhs.uk).
func orgLabel(labels []string) int {
	i := len(labels) - 2
	if i > 0 && len(labels[len(labels)-1]) == 2 && secondLevel[labels[i]] {
		i--
	}
	return i
}

// hostOf is the host of a URL or bare host: no scheme, no user or password
// (never shown), no port, path, query or fragment; lower case, no trailing dot.
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	} else if strings.ContainsAny(s, " \t") {
		return s // a name, not a host
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") { // an IPv6 literal
		if i := strings.Index(s, "]"); i >= 0 {
			return strings.ToLower(s[:i+1])
		}
	}
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

func isIP(host string) bool {
	if strings.HasPrefix(host, "[") {
		return true
	}
	return strings.Trim(host, "0123456789.") == ""
}

// Synonyms are the host words that stand, in the raw domains the store
// keeps, for a word of the EHR names shown on screen: "eclinical" (of
// eClinicalWorks) is "ecw", "eclinicalworks", "ecwcloud.com", …, so that a
// filter finds what the table shows. A word shorter than three letters
// names too many things to stand for any.
func Synonyms(word string) []string {
	word = strings.ToLower(word)
	if len([]rune(word)) < 3 {
		return nil
	}
	var out []string
	for _, v := range vendors {
		if strings.Contains(strings.ToLower(v.name), word) || strings.Contains(strings.ToLower(v.short), word) {
			out = append(out, v.labels...)
			out = append(out, v.domains...)
		}
	}
	return out
}
